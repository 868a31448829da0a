"""Normalisation of the real splits in ../shared/data, and the errors for bad sources."""

import json

import pytest

from w2s import data
from w2s.io import InputError


def test_gsm8k_train_normalised(shared_data):
    rows = data.normalise_split("gsm8k", {"path": str(shared_data / "gsm8k/train_1.jsonl")}, "train_1")
    assert len(rows) == 7000
    first = rows[0]
    assert first["id"] == "gsm8k_2" and first["answer"] == "5"
    assert "<<" not in first["solution"] and first["solution"].endswith("#### 5")
    assert all(r["solution"].rstrip().endswith(f"#### {r['answer']}") or "," in r["solution"] for r in rows)
    assert len({r["id"] for r in rows}) == 7000


def test_gsm8k_test_uses_solution_field(shared_data):
    rows = data.normalise_split("gsm8k", {"path": str(shared_data / "gsm8k/test.jsonl")}, "test")
    assert len(rows) == 1319
    assert rows[0]["answer"] == "18" and rows[0]["id"] == "gsm8k-0"
    raw = [json.loads(line) for line in open(shared_data / "gsm8k/test.jsonl")]
    # The final answer from the solution agrees with the file's own answer field (commas removed).
    assert sum(r["answer"] == raw[i]["answer"].replace(",", "") for i, r in enumerate(rows)) == 1319


def test_math500_normalised(shared_data):
    rows = data.normalise_split("math", {"path": str(shared_data / "math/test.jsonl")}, "test")
    assert len(rows) == 500
    assert rows[0]["id"] == "test/precalculus/807.json"
    assert rows[0]["answer"] == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert rows[0]["solution"].endswith("The answer is: \\left( 3, \\frac{\\pi}{2} \\right)")
    assert {"subject", "level"} <= rows[0].keys()


def test_real_train_2_and_test_are_disjoint_and_split_hides_gold(shared_data):
    train_2 = data.normalise_split("gsm8k", {"path": str(shared_data / "gsm8k/train_2.jsonl"), "limit": 500}, "train_2")
    test = data.normalise_split("gsm8k", {"path": str(shared_data / "gsm8k/test.jsonl")}, "test")
    data.check_disjoint(train_2, test, "gsm8k")
    public, gold = data.split_questions(train_2)
    assert set(public[0]) == {"id", "question"} and set(gold[0]) == {"id", "answer", "solution"}
    with pytest.raises(InputError, match="also appear in train_2"):
        data.check_disjoint(train_2, train_2[:3], "gsm8k")


def test_olympicarena_filters_language_and_answer_type(tmp_path):
    rows = [
        {"id": "a", "problem": "Find x.", "answer": ["2"], "answer_type": "NV", "language": "EN", "subject": "Math"},
        {"id": "b", "problem": "Code it.", "answer": [], "answer_type": "CODE", "language": "EN", "subject": "CS"},
        {"id": "c", "problem": "求x", "answer": ["3"], "answer_type": "NV", "language": "ZH", "subject": "Math"},
        {"id": "d", "problem": "Which?", "answer": ["A", "C"], "answer_type": "MC", "language": "EN", "subject": "Physics"},
    ]
    path = tmp_path / "oa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = data.normalise_split("olympicarena", {"path": str(path)}, "test")
    assert [r["id"] for r in out] == ["a", "d"]
    assert out[1]["answer"] == "A, C" and out[1]["answer_type"] == "MC"
    only_math = data.normalise_split("olympicarena", {"path": str(path), "subjects": ["Math"]}, "test")
    assert [r["id"] for r in only_math] == ["a"]


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "1", "question": "q", "answer": "x #### 1"}\n{"id": "2", "quest', "line 2: not valid JSON"),
        ('{"id": "1", "answer": "x #### 1"}\n', "no non-empty text in any of the fields question"),
        ('{"id": "1", "question": "q", "answer": "no key here"}\n', "ending in '#### N'"),
        ("", "is empty after normalisation"),
        ('{"id": "1", "question": "q", "answer": "a #### 1"}\n{"id": "1", "question": "r", "answer": "b #### 2"}\n',
         "duplicate id '1'"),
    ],
)
def test_bad_sources_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as err:
        data.normalise_split("gsm8k", {"path": str(path)}, "train_1")
    assert str(path) in str(err.value)


def test_missing_source_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        data.normalise_split("gsm8k", {"path": str(tmp_path / "nope.jsonl")}, "test")


def test_math_without_answer_key_in_any_gold(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"problem": "p", "solution": "s \\boxed{2}"}) + "\n")
    rows = data.normalise_split("math", {"path": str(path)}, "test")
    assert rows[0]["answer"] == "2"
