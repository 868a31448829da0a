"""The toy world: seeded problems with right gold answers, disjoint splits, a small tokenizer, tiny models."""

from __future__ import annotations

import re

import pytest
import torch

from tests.conftest import default_config
from w2s import toy
from w2s.io import read_jsonl

torch.set_num_threads(1)

# The workflow's toy settings (config/config.yaml, validated), with small splits and a wider range
# of numbers than the tiny default's.
CONFIG = default_config()
SMALL = {**CONFIG["toy"]["data"], "train_1": 60, "train_2": 30, "test": 20, "max_operand": 20,
         "max_value": 400}
# Pretraining text settings: the strong toy model's, its problems shaped like SMALL's.
TEXT = {**CONFIG["models"]["toy-strong"]["toy"],
        **{k: SMALL[k] for k in ("max_steps", "max_operand", "max_value")}}


def tiny_model(**settings) -> dict:
    """The strong toy model's settings with a one-layer architecture (and ``settings``)."""
    return {**CONFIG["models"]["toy-strong"]["toy"], "layers": 1, "hidden": 64, "heads": 2,
            "intermediate": 128, **settings}


def solve(question: str) -> int:
    """Answer a toy question by reading its sentences: independent of the generator's arithmetic."""
    sentences = re.split(r"(?<=[.?])\s+", question.strip())
    v = None
    for s in sentences:
        if m := re.fullmatch(r"\w+ has (\d+) [\w ]+\.", s):
            assert v is None, f"second start sentence: {s!r}"
            v = int(m[1])
        elif m := re.fullmatch(r"(?:He|She) buys (\d+) (?:bags|boxes|packs|jars|baskets) of [\w ]+ with (\d+) [\w ]+ in each\.", s):
            v += int(m[1]) * int(m[2])
        elif m := re.fullmatch(r"(?:(?:He|She) (?:buys|finds)|[\w ]+ gives \w+) (\d+) more [\w ]+\.", s):
            v += int(m[1])
        elif m := re.fullmatch(r"(?:He|She) (?:gives|loses|sells) (\d+) [\w ]+?(?: to [\w ]+)?\.", s):
            v -= int(m[1])
        elif m := re.fullmatch(r"Then the number of [\w ]+ (?:he|she) has (doubles|triples)\.", s):
            v *= {"doubles": 2, "triples": 3}[m[1]]
        elif m := re.fullmatch(r"Then (?:he|she) has (\d+) times as many [\w ]+ as before\.", s):
            v *= int(m[1])
        elif m := re.fullmatch(r"Each [\w ]+ costs (\d+) dollars\.", s):
            v *= int(m[1])
        elif re.fullmatch(r"How many (?:dollars are all of (?:his|her) [\w ]+ worth|[\w ]+ does \w+ have now)\?", s):
            pass
        else:
            raise AssertionError(f"unknown sentence {s!r} in {question!r}")
    assert v is not None
    return v


def test_problems_are_seeded_and_distinct():
    a = toy.make_problems(200, 7, SMALL)
    assert a == toy.make_problems(200, 7, SMALL)
    b = toy.make_problems(200, 8, SMALL)
    assert [p["question"] for p in a] != [p["question"] for p in b]
    assert len({p["question"] for p in a}) == 200
    assert len({p["id"] for p in a}) == 200
    assert all(set(p) == {"id", "question", "answer"} for p in a)


def test_gold_answers_are_right():
    problems = toy.make_problems(500, 3, SMALL)
    steps_seen = set()
    for p in problems:
        sol = p["answer"]
        assert sol.endswith(f"#### {toy.final_answer(sol)}")
        assert int(toy.final_answer(sol)) == solve(p["question"]), p
        # Every calculator note is a true equation, matches the text beside it, and the chain
        # of notes ends in the final answer.
        notes = re.findall(r"(\d+) ([-+*]) (\d+) = <<(\d+)([-+*])(\d+)=(\d+)>>(\d+)", sol)
        assert notes and len(notes) == sol.count("<<"), sol
        for a, op, b, a2, op2, b2, r, r2 in notes:
            assert (a, op, b, r) == (a2, op2, b2, r2)
            assert {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b)}[op] == int(r)
            assert 0 <= int(r) <= SMALL["max_value"]
        assert notes[-1][-1] == toy.final_answer(sol)
        steps_seen.add(len(notes))
        assert 1 <= len(notes) <= SMALL["max_steps"]
        assert "<<" not in toy.strip_notes(sol) and toy.strip_notes(sol).endswith(toy.final_answer(sol))
    assert steps_seen == {1, 2, 3}


def test_exclude_and_max_steps():
    first = toy.make_problems(100, 1, SMALL)
    again = toy.make_problems(100, 1, SMALL, exclude={p["question"] for p in first[:50]})
    assert not {p["question"] for p in first[:50]} & {p["question"] for p in again}
    one = toy.make_problems(50, 1, {**SMALL, "max_steps": 1})
    assert all(p["answer"].count("<<") == 1 for p in one)
    with pytest.raises(ValueError, match="max_steps"):
        toy.make_problems(1, 1, {**SMALL, "max_steps": 0})


def test_toy_data_splits(tmp_path):
    toy.build_toy_data(str(tmp_path), SMALL, seed=0)
    splits = {s: read_jsonl(tmp_path / f"{s}.jsonl", {"id": str, "question": str, "answer": str}) for s in toy.SPLITS}
    assert {s: len(r) for s, r in splits.items()} == {s: SMALL[s] for s in toy.SPLITS}
    questions = [r["question"] for rows in splits.values() for r in rows]
    assert len(set(questions)) == len(questions), "a question appears in two splits"
    ids = [r["id"] for rows in splits.values() for r in rows]
    assert len(set(ids)) == len(ids)
    assert not list(tmp_path.glob(".*tmp")), "temporary files left behind"
    # The workflow's GSM8K normaliser reads the files as real GSM8K.
    data = pytest.importorskip("w2s.data")
    row = data.normalise_gsm8k(splits["test"][0], 0, "test")
    assert row["answer"] == toy.final_answer(splits["test"][0]["answer"])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    toy.build_toy_data(str(root / "data"), SMALL, seed=0)
    tokenizer = {**CONFIG["toy"]["tokenizer"], "vocab_size": 1000, "max_value": 400}
    toy.train_tokenizer(str(root / "tok"), str(root / "data"), {"data": SMALL, "tokenizer": tokenizer},
                        seed=0)
    return root


def test_tokenizer(world):
    tok = toy.load_tokenizer(world / "tok")
    assert len(tok) <= 1000
    assert tok.pad_token_id is not None and tok.pad_token_id != tok.eos_token_id
    assert len({tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id}) == 4
    text = "Question: Tom has 5 apples.\nAnswer: After buying 3 more, he has 5 + 3 = 8 apples.\n#### 8"
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.bos_token_id
    assert tok.decode(ids, skip_special_tokens=True) == text
    odd = "Zoë paid €12,50 — ok?"  # byte-level: anything round-trips, even unseen characters
    assert tok.decode(tok(odd, add_special_tokens=False)["input_ids"]) == odd
    too_long = [i for i in range(401) if len(tok(f" {i}", add_special_tokens=False)["input_ids"]) != 1]
    assert not too_long, f"numbers that are not one token: {too_long[:10]}"


def test_build_model_saves_loads_and_generates(world, caplog):
    from transformers import AutoModelForCausalLM

    cfg = tiny_model(max_position=256, pretrain_steps=3, batch_size=2, seq_len=32, lr=1e-3, warmup_steps=1)
    with caplog.at_level("INFO", logger="w2s.toy.model"):
        metrics = toy.build_model(str(world / "m"), str(world / "tok"), str(world / "data"), cfg, seed=0)
    # A long pretraining says how far it is: here every step (3 < PROGRESS_LINES), the last one too.
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        f"pretraining step {i}/3" for i in (1, 2, 3)]
    assert metrics["steps"] == 3 and metrics["loss"] > 0 and metrics["parameters"] > 0
    model = AutoModelForCausalLM.from_pretrained(str(world / "m"))
    tok = toy.load_tokenizer(world / "m")
    assert model.config.hidden_size // model.config.num_attention_heads >= 32
    assert model.config.pad_token_id == tok.pad_token_id != model.config.eos_token_id
    enc = tok(["Question: Tom has 5 apples.\nAnswer:"], return_tensors="pt")
    out = model.generate(**enc, max_new_tokens=4, do_sample=False)
    assert out.shape[1] <= enc["input_ids"].shape[1] + 4
    # Same seed, same weights.
    toy.build_model(str(world / "m2"), str(world / "tok"), str(world / "data"), cfg, seed=0)
    other = AutoModelForCausalLM.from_pretrained(str(world / "m2"))
    for (n, p), (_, q) in zip(model.named_parameters(), other.named_parameters()):
        assert torch.equal(p, q), n


def test_head_dim_below_32_is_refused(world):
    cfg = tiny_model(heads=4, pretrain_steps=0)
    with pytest.raises(ValueError, match="head_dim"):
        toy.build_model(str(world / "bad"), str(world / "tok"), str(world / "data"), cfg, seed=0)
    assert not (world / "bad").exists()


def test_pretraining_text_excludes_questions():
    cfg = {**TEXT, "max_steps": 1, "equation_share": 0.0, "target_format_share": 0.5}
    docs = toy.pretraining_text(400, 5, cfg, set())
    seen = {q for d in docs for q in re.findall(r"^(?:Question|Problem|Q): (.*)$", d, re.M)}
    assert all(solve(q) >= 0 for q in seen)
    assert len(seen) > 100
    again = toy.pretraining_text(400, 5, cfg, seen)
    assert not any(q in d for d in again for q in seen)


def test_pretraining_mix():
    cfg = {**TEXT, "equation_share": 0.4, "target_format_share": 0.1, "max_docs_per_row": 3}
    rows = toy.pretraining_text(3000, 1, cfg, set())
    equations = [r for r in rows if re.fullmatch(r"(\d+ [-+*] \d+ = \d+\n{0,2})+", r)]
    assert 0.37 < len(equations) / len(rows) < 0.43
    for r in equations:
        for a, op, b, c in re.findall(r"(\d+) ([-+*]) (\d+) = (\d+)", r):
            assert {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b)}[op] == int(c)
    target = [r for r in rows if "####" in r]
    assert 0.08 < len(target) / len(rows) < 0.12
    sizes = set()
    for r in rows:
        if r in equations:
            continue
        docs = r.split("\n\n")
        sizes.add(len(docs))
        # One format per row: every document of a row has the same prefix and ending words.
        shapes = {(d.split(":", 1)[0], re.sub(r"\d+", "N", d.rsplit("\n", 1)[1])) for d in docs}
        assert len(shapes) == 1, r
        if r in target:
            assert shapes == {("Question", "#### N")}
            assert all("\nAnswer: " in d for d in docs)
        for d in docs:  # the ending states the problem's answer
            q = re.match(r"(?:Question|Problem|Q): (.*)\n", d)[1]
            assert re.findall(r"\d+", d.rsplit("\n", 1)[1]) == [str(solve(q))]
    assert sizes == {1, 2, 3}
    fixed = toy.pretraining_text(50, 2, cfg, set(), docs_per_row=2)
    assert all(len(r.split("\n\n")) == 2 for r in fixed if "=" not in r.split("\n")[0])


def test_pretraining_questions_are_the_questions_the_pretraining_reads():
    # What w2s.toy.fresh keeps out of the fresh test problems.
    cfg = {**TEXT, "pretrain_steps": 8, "batch_size": 8, "single_doc_share": 0.25, "equation_share": 0.2}
    exclude = {p["question"] for p in toy.make_problems(300, 3, SMALL)}
    found = toy.pretraining_questions(cfg, 0, exclude)
    texts = [t for step in toy.model._pretraining_steps(cfg, 0, exclude) for t in step]
    read = {q for t in texts for q in re.findall(r"^(?:Question|Problem|Q): (.*)$", t, re.M)}
    assert len(read) > 20 and found == read and not found & exclude


def test_build_model_never_trains_on_train_2_or_test(world, monkeypatch):
    """Spy on the corpus build_model trains on (the real generator runs)."""
    docs_seen: list[str] = []
    excluded: list[set] = []
    real = toy.pretraining_text

    def spy(n_rows, seed, cfg, exclude, **kw):
        excluded.append(exclude)
        docs = real(n_rows, seed, cfg, exclude, **kw)
        docs_seen.extend(docs)
        return docs

    monkeypatch.setattr(toy.model, "pretraining_text", spy)  # what pretrain calls
    cfg = tiny_model(pretrain_steps=2, batch_size=2, seq_len=32, lr=1e-3)
    toy.build_model(str(world / "spy"), str(world / "tok"), str(world / "data"), cfg, seed=0)
    assert docs_seen and excluded
    held_out = {r["question"] for s in ("train_2", "test") for r in read_jsonl(world / "data" / f"{s}.jsonl")}
    assert all(held_out <= e for e in excluded)
    assert not any(q in d for d in docs_seen for q in held_out)


def test_graded_test_adds_fresh_problems_no_toy_model_read(world, monkeypatch, tmp_path):
    """The graded test set: the test split, then fresh problems outside every split and outside the
    text a toy model's real pretraining read (captured from build_model, not from the redraw)."""
    from w2s.toy import fresh

    read: list[str] = []
    real = toy.pretraining_text

    def spy(n_rows, seed, cfg, exclude, **kw):
        docs = real(n_rows, seed, cfg, exclude, **kw)
        read.extend(docs)
        return docs

    monkeypatch.setattr(toy.model, "pretraining_text", spy)
    strong = tiny_model(pretrain_steps=3, batch_size=6, seq_len=32, lr=1e-3,
                        **{k: SMALL[k] for k in ("max_steps", "max_operand", "max_value")})
    toy.build_model(str(tmp_path / "strong"), str(world / "tok"), str(world / "data"), strong, seed=0)
    monkeypatch.setattr(toy.model, "pretraining_text", real)
    read_questions = {q for d in read for q in re.findall(r"^(?:Question|Problem|Q): (.*)$", d, re.M)}
    assert len(read_questions) > 5

    excluded: list[set] = []
    real_make = fresh.make_problems
    monkeypatch.setattr(fresh, "make_problems",
                        lambda n, seed, cfg, exclude: excluded.append(exclude) or real_make(n, seed, cfg, exclude))
    models = {"toy-weak": tiny_model(pretrain_steps=0), "toy-strong": strong}
    out = tmp_path / "graded" / "test.jsonl"
    counts = fresh.write_graded_test(out, world / "data", 40, SMALL, models, seed=0)
    rows = read_jsonl(out, {"id": str, "question": str, "answer": str})
    test = read_jsonl(world / "data" / "test.jsonl")
    assert counts == {"test_split": len(test), "fresh": 40} and len(rows) == len(test) + 40
    assert rows[: len(test)] == test
    splits = {r["question"] for s in toy.SPLITS for r in read_jsonl(world / "data" / f"{s}.jsonl")}
    new = [r["question"] for r in rows[len(test):]]
    assert len(set(new)) == 40 and not set(new) & (splits | read_questions)
    assert excluded and (splits | read_questions) <= excluded[0]
    assert all(int(toy.final_answer(r["answer"])) == solve(r["question"]) for r in rows[len(test):])

    again = tmp_path / "again.jsonl"
    fresh.write_graded_test(again, world / "data", 40, SMALL, models, seed=0)
    assert again.read_bytes() == out.read_bytes()
    fresh.write_graded_test(again, world / "data", 0, SMALL, models, seed=0)
    assert read_jsonl(again) == test


def test_too_many_fresh_test_problems_name_the_key(world):
    from w2s.io import InputError
    from w2s.toy import fresh

    tiny_space = {**SMALL, "max_steps": 1, "max_operand": 2, "max_value": 10}
    with pytest.raises(InputError, match=r"toy\.fresh_test: 20000 fresh problems do not fit"):
        fresh.fresh_problems(20000, 0, tiny_space, {}, world / "data")
