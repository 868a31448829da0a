"""The transformers generation backend against plain, unbatched ``model.generate``.

A tiny random Llama (hidden 64, 2 heads of 32, 2 layers) and a byte-level BPE trained in the fixture.
The reference path is the unoptimised one: one prompt at a time through ``model.generate``, decoded,
then cut before the first stop string. The backend batches by length, shares prefixes, drops finished
rows and samples n per prefill; its greedy outputs must be identical.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from w2s.generation import SamplingConfig, cut_at_stop, derive_seed, engine_settings, generate_file, make_backend
from w2s.generation.testing import build_tiny_model
from w2s.io import InputError, read_jsonl

torch.set_num_threads(1)

QUESTIONS = [
    "Ann has 3 pens and buys 4 more. How many pens now?",
    "Bob has 12 cups.",
    "Cid has 7 books and buys 19 more. How many books does Cid have now in total?",
    "Dee?",
    "Eve has 1 coin and buys 2 more. How many coins now?",
    "Fay has 20 shells and buys 5 more. How many shells now? Count them all.",
    "Gus has 9 apples.",
]
DEMOS = (
    "Question: Hal has 2 pens and buys 3 more. How many pens now?\nAnswer: Hal has 2 + 3 = 5 pens.\n#### 5\n\n"
    "Question: Ann has 8 cups and buys 1 more. How many cups now?\nAnswer: Ann has 8 + 1 = 9 cups.\n#### 9\n\n"
)


def zero_shot(q: str) -> str:
    return f"Question: {q}\nAnswer:"


PROMPTS = [zero_shot(q) for q in QUESTIONS]
FEW_SHOT = [DEMOS + zero_shot(q) for q in QUESTIONS]
ENGINE = {"backend": "transformers", "batch_size": 3, "dtype": "float32", "progress": False}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def backend(tiny):
    return make_backend(tiny, ENGINE, threads=1)


@pytest.fixture(scope="module")
def reference(tiny):
    """Plain HF generate, one prompt at a time: the unoptimised path."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cache: dict = {}

    def run(prompt: str, max_new: int, stops=(), model_path=None):
        path = model_path or tiny
        if path not in cache:
            cache[path] = (
                AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval(),
                AutoTokenizer.from_pretrained(path),
            )
        model, tok = cache[path]
        ids = tok(prompt, return_tensors="pt").input_ids
        with torch.inference_mode():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new, do_sample=False,
                                 pad_token_id=tok.pad_token_id or tok.eos_token_id)
        gen = out[0, ids.shape[1]:].tolist()
        eos = model.generation_config.eos_token_id
        body = gen[:-1] if gen and gen[-1] in (eos if isinstance(eos, list) else [eos]) else gen
        # The end-of-sequence token is not part of the response, special token or not.
        text = tok.decode(body, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        return cut_at_stop(text, stops)[0], gen

    return run


def test_greedy_identical_to_unbatched_generate(backend, reference):
    sampling = SamplingConfig(max_new_tokens=24, stop=())
    got = backend.generate(PROMPTS, sampling)
    assert [len(r) for r in got] == [1] * len(PROMPTS)
    want = [reference(p, 24)[0] for p in PROMPTS]
    assert [r[0] for r in got] == want
    # Non-trivial outputs: a random model never stops early, so every row ran 24 tokens.
    assert all(len(w) > 10 for w in want)


def test_length_grouped_batches_cover_requests_longest_first(backend):
    prep = backend.prepare(PROMPTS, SamplingConfig(max_new_tokens=4))
    assert sorted(i for b in prep.batches for i in b) == list(range(len(PROMPTS)))
    lengths = [len(prep.token_ids[i]) for b in prep.batches for i in b]
    assert lengths == sorted(lengths, reverse=True)
    assert all(len(b) <= 3 for b in prep.batches)


def test_shared_prefix_computed_once_and_outputs_unchanged(backend, reference):
    sampling = SamplingConfig(max_new_tokens=16, stop=())
    backend._prefix = None  # count the prefix's one forward pass even if an earlier test made it
    prep = backend.prepare(FEW_SHOT, sampling)
    assert prep.prefix_len > 40  # the two demonstrations and the next "Question:"
    before = dict(backend.counters.as_dict())
    got = backend.generate(FEW_SHOT, sampling)
    computed = backend.counters.prompt_tokens_computed - before["prompt_tokens_computed"]
    submitted = backend.counters.prompt_tokens_submitted - before["prompt_tokens_submitted"]
    assert submitted == sum(len(t) for t in prep.token_ids)
    # Prefix once plus each batch's padded suffixes, far below every prompt in full.
    padded = sum(len(b) * max(len(prep.token_ids[i]) - prep.prefix_len for i in b) for b in prep.batches)
    assert computed == prep.prefix_len + padded
    assert computed < submitted / 2
    assert [r[0] for r in got] == [reference(p, 16)[0] for p in FEW_SHOT]


def test_prefix_sharing_off_gives_same_greedy_outputs(tiny, backend):
    plain = make_backend(tiny, {**ENGINE, "enable_prefix_caching": False}, threads=1)
    sampling = SamplingConfig(max_new_tokens=12, stop=())
    assert plain.prepare(FEW_SHOT, sampling).prefix_len == 0
    assert plain.generate(FEW_SHOT, sampling) == backend.generate(FEW_SHOT, sampling)


def test_stop_strings_cut_output_and_stop_the_row(backend, reference):
    free = backend.generate_completions(PROMPTS, SamplingConfig(max_new_tokens=30, stop=()))
    # A stop string taken from the middle of one real output, so the test depends on the model.
    text0 = free[0][0].text
    stop = text0[12:15]
    assert len(stop.strip()) >= 2, f"unlucky stop string {stop!r}"
    stopped = backend.generate_completions(PROMPTS, SamplingConfig(max_new_tokens=30, stop=(stop, "\u00a7never")))
    hit = 0
    for p, f, s in zip(PROMPTS, free, stopped, strict=True):
        want = reference(p, 30, (stop,))[0]
        assert s[0].text == want
        assert stop not in s[0].text
        if stop in f[0].text:
            hit += 1
            assert s[0].finish_reason == "stop"
            assert s[0].num_tokens < f[0].num_tokens  # the row stopped costing compute
        else:
            assert s[0].finish_reason == "length" and s[0].num_tokens == 30
    assert hit >= 1
    assert stopped[0][0].text == text0[: text0.find(stop)]


def test_end_of_sequence_token_stops_a_row(tiny, tmp_path, reference):
    # Declare as end-of-sequence a token the model emits mid-output: rows must stop there, like generate.
    free_model = make_backend(tiny, ENGINE, threads=1)
    prep = free_model.prepare(PROMPTS[:1], SamplingConfig(max_new_tokens=20, stop=()))
    _, gen = reference(PROMPTS[0], 20)
    eos = gen[6]
    folder = tmp_path / "eos_model"
    shutil.copytree(tiny, folder)
    cfg = json.loads((folder / "generation_config.json").read_text())
    cfg["eos_token_id"] = eos
    (folder / "generation_config.json").write_text(json.dumps(cfg))
    be = make_backend(str(folder), ENGINE, threads=1)
    got = be.generate_completions(PROMPTS, SamplingConfig(max_new_tokens=20, stop=()))
    assert got[0][0].finish_reason == "stop" and got[0][0].num_tokens == gen.index(eos) + 1
    assert [g[0].text for g in got] == [reference(p, 20, model_path=str(folder))[0] for p in PROMPTS]
    assert prep.token_ids[0]  # the tokenisation used above is the backend's


def test_sampling_reproducible_and_independent_of_batching(tiny, backend):
    sampling = SamplingConfig(max_new_tokens=16, temperature=1.0, n=4, seed=3, stop=())
    seeds = [derive_seed(3, f"q{i}") for i in range(len(PROMPTS))]
    a = backend.generate(PROMPTS, sampling, seeds)
    b = backend.generate(PROMPTS, sampling, seeds)
    assert a == b
    assert all(len(r) == 4 for r in a)
    # Samples of one prompt differ from each other (temperature 1 over ~220 tokens).
    assert all(len(set(r)) == 4 for r in a)
    # A sequence's randomness is its own: other batch sizes (other neighbours) give the same samples.
    other = make_backend(tiny, {**ENGINE, "batch_size": 1}, threads=1)
    assert other.generate(PROMPTS, sampling, seeds) == a
    # Other seeds give other samples.
    c = backend.generate(PROMPTS, sampling, [s + 1 for s in seeds])
    assert sum(x != y for x, y in zip(a, c, strict=True)) == len(PROMPTS)


def test_tiny_top_p_is_greedy(backend):
    greedy = backend.generate(PROMPTS, SamplingConfig(max_new_tokens=12, stop=()))
    nucleus = backend.generate(PROMPTS, SamplingConfig(max_new_tokens=12, temperature=1.0, top_p=1e-6, n=2, stop=()))
    assert [[g[0], g[0]] for g in greedy] == nucleus


def test_n_samples_share_one_prefill(backend):
    sampling = SamplingConfig(max_new_tokens=4, temperature=1.0, n=5, stop=())
    before = backend.counters.as_dict()
    backend.generate(PROMPTS, sampling)
    computed = backend.counters.prompt_tokens_computed - before["prompt_tokens_computed"]
    submitted = backend.counters.prompt_tokens_submitted - before["prompt_tokens_submitted"]
    generated = backend.counters.generated_tokens - before["generated_tokens"]
    prep = backend.prepare(PROMPTS, sampling)
    assert submitted == 5 * sum(len(t) for t in prep.token_ids)
    assert computed == sum(len(b) * max(len(prep.token_ids[i]) for i in b) for b in prep.batches)
    assert computed * 4 < submitted
    assert generated == 5 * 4 * len(PROMPTS)


def test_greedy_n_repeats_one_sequence(backend):
    out = backend.generate_completions(PROMPTS[:2], SamplingConfig(max_new_tokens=6, n=3, stop=()))
    assert all(len({c.text for c in r}) == 1 and len(r) == 3 for r in out)


def test_tokenizer_without_pad_token(tmp_path, reference):
    path = build_tiny_model(tmp_path / "nopad", with_pad=False, seed=1)
    be = make_backend(path, ENGINE, threads=1)
    assert be.tokenizer.pad_token is not None
    got = be.generate(PROMPTS, SamplingConfig(max_new_tokens=10, stop=()))
    assert [g[0] for g in got] == [reference(p, 10, model_path=path)[0] for p in PROMPTS]


def test_peft_adapter_folder_is_merged(tiny, tmp_path, backend):
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
    lora = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                                           init_lora_weights=False))
    lora.save_pretrained(tmp_path / "adapter")
    AutoTokenizer.from_pretrained(tiny).save_pretrained(tmp_path / "adapter")
    sampling = SamplingConfig(max_new_tokens=12, stop=())
    got = make_backend(str(tmp_path / "adapter"), ENGINE, threads=1).generate(PROMPTS, sampling)

    merged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32),
                                       tmp_path / "adapter").merge_and_unload().eval()
    tok = AutoTokenizer.from_pretrained(tiny)
    want = []
    for p in PROMPTS:
        ids = tok(p, return_tensors="pt").input_ids
        out = merged.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False)
        want.append(tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True))
    assert [g[0] for g in got] == want
    assert got != backend.generate(PROMPTS, sampling)  # the adapter changed the model


def test_generate_file_rows_in_request_order(tiny, tmp_path):
    requests = [{"id": f"item-{k}", "prompt": p} for k, p in zip([5, 2, 9, 0, 7, 1, 3], PROMPTS, strict=True)]
    sampling = SamplingConfig(max_new_tokens=8, temperature=0.7, n=2, seed=11, stop=("Qu",))
    metrics = generate_file(requests, str(tmp_path / "out.jsonl"), tiny, sampling, ENGINE, str(tmp_path / "work"),
                            metrics_path=str(tmp_path / "m.json"))
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows] == [r["id"] for r in requests]
    for r in rows:
        assert r["seed"] == derive_seed(11, r["id"])
        assert len(r["responses"]) == 2 and len(r["finish_reasons"]) == 2
        assert all("Qu" not in t for t in r["responses"])
        assert set(r["finish_reasons"]) <= {"stop", "length"}
    on_disk = json.loads((tmp_path / "m.json").read_text())
    assert on_disk == metrics
    assert metrics["items_generated"] == len(requests) and metrics["items_resumed"] == 0
    assert metrics["generated_tokens"] == sum(sum(r["num_tokens"]) for r in rows)
    assert metrics["backend"] == "transformers" and metrics["tokens_per_s"] > 0
    assert not list((tmp_path / "work").iterdir())  # state removed after success


def test_generate_file_rejects_duplicate_ids(tiny, tmp_path):
    with pytest.raises(InputError, match="appears twice"):
        generate_file([{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}], str(tmp_path / "o.jsonl"), tiny,
                      SamplingConfig(max_new_tokens=2), ENGINE, str(tmp_path / "w"))


def test_prompt_longer_than_model_limit_is_a_clear_error(tiny):
    be = make_backend(tiny, {**ENGINE, "max_model_len": 8}, threads=1)
    with pytest.raises(ValueError, match="max_model_len"):
        be.prepare([PROMPTS[0]], SamplingConfig(max_new_tokens=2))


def test_config_validation():
    with pytest.raises(ValueError, match="max_new_tokens"):
        SamplingConfig(max_new_tokens=0)
    with pytest.raises(ValueError, match="top_p"):
        SamplingConfig(max_new_tokens=1, top_p=0)
    with pytest.raises(ValueError, match="backend"):
        engine_settings({"backend": "tgi"})
    assert SamplingConfig(max_new_tokens=1, stop=["a"]).stop == ("a",)
    assert engine_settings({"batch_size": 4})["enable_prefix_caching"] is True
    assert derive_seed(0, "a") == derive_seed(0, "a") != derive_seed(1, "a")
