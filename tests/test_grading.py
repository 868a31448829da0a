"""Unit tests of w2s.grading: extraction, normalisation, equivalence, matching, grouping,
OlympicArena answer types, grade_rows and grade_file (see test_grading_safety.py for the
adversarial suite and test_grading_data.py for the real-data checks)."""

from __future__ import annotations

import json

import pytest

from w2s.grading import (
    GRADER_ID,
    TASKS,
    answers_match,
    extract_answer,
    grade_file,
    grade_rows,
    grader_id,
    group_answers,
    is_equivalent,
)
from w2s.grading.normalize import canonical_number, normalize, to_number
from w2s.io import InputError


def test_public_constants():
    assert TASKS == ("gsm8k", "math", "olympicarena")
    assert isinstance(GRADER_ID, str) and "equivalence" in GRADER_ID and len(GRADER_ID) < 80
    assert grader_id("exact").endswith("/exact") and grader_id("exact") != GRADER_ID
    with pytest.raises(ValueError, match="mode"):
        grader_id("fuzzy")
    with pytest.raises(ValueError, match="unknown task"):
        extract_answer("#### 1", "svamp")


# ----------------------------------------------------------------------------- extraction


@pytest.mark.parametrize(
    "response, expected",
    [
        ("48/2 = 24 clips in May.\n48+24 = 72 altogether.\n#### 72", "72"),
        ("#### 5\nWait, I made a mistake.\n#### 7", "7"),  # last occurrence wins
        ("So the answer:\n#### 12\n\nQuestion: next one?\nAnswer: ...\n#### 99", "12"),  # runaway cut
        ("Question: q?\nAnswer: x\n#### 4\nQuestion: runaway\n#### 5", "4"),  # prompt kept: cut at 2nd
        ("She pays $1,200.00.\n#### $1,200.00.", "1200"),
        ("#### 18 dollars", "18"),
        ("#### 72 clips altogether", "72"),
        ("#### -615,000", "-615000"),
        ("#### 0.50", "0.5"),
        ("#### 25%", "25"),
        ("#### 1 hour, 45 minutes", "1 hour,45 minutes"),  # not one number: stays text
        ("#### 27 1/2", "27 1/2"),  # a mixed number keeps its space
        ("She spent $70/7=$10 per teacher\nEach gift cost $10", "10"),  # fallback: last number
        ("The total is \\boxed{42} apples.", "42"),  # fallback: boxed before last number
        ("The answer is 17, because 3 + 14 = 17 and 5 more is 22", "17"),  # fallback: phrase
        ("I do not know.", ""),
        ("", ""),
        ("#### 5</s> #### 6", "5"),  # end-of-sequence marker
        ("so １２ apples", "12"),  # fullwidth digits are digits
        ("so ٧٢ apples", ""),  # other Unicode digits are not
    ],
)
def test_extract_gsm8k(response, expected):
    assert extract_answer(response, "gsm8k") == expected


def test_gsm8k_no_last_number_in_a_repetition_loop():
    loop = "The total cost of all the items is 4x = 4x.\n" * 20 + "The total cost of all the items is 4x"
    assert extract_answer(loop, "gsm8k") == ""
    assert extract_answer(loop + "\n#### 4", "gsm8k") == "4"  # an explicit answer still counts


@pytest.mark.parametrize(
    "response, expected",
    [
        ("Some work.\nThe answer is: \\frac{1}{2}", "\\frac{1}{2}"),
        ("The answer is: 3. Then more.\nThe answer is: $\\boxed{\\dfrac{3}{4}}$.", "\\frac{3}{4}"),
        ("So $x = \\boxed{\\frac{\\sqrt{2}}{2}}$ and we are done.", "\\frac{\\sqrt{2}}{2}"),
        ("First \\boxed{1}, finally \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "(3,\\frac{\\pi}{2})"),
        ("The answer is: \\text{(B)}", "B"),
        ("The answer is: 5 \\text{ cm}", "5"),
        ("The answer is: 30^\\circ", "30"),
        ("The answer is: \\$36", "36"),
        ("The answer is:\n\n  42\nnext", "42"),  # key at a line end: answer on the next line
        ("The answer is: \\begin{pmatrix} 1 \\\\\n 2 \\end{pmatrix}\ntext", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"),
        ("The final answer is $7$.", "7"),
        ("No conclusion here, 5 and 6.", ""),  # no last-number fallback for MATH
        ("The answer is: 1\nQuestion: What is 2+2?\nAnswer: The answer is: 4", "1"),
    ],
)
def test_extract_math(response, expected):
    assert extract_answer(response, "math") == expected


def test_extract_boxed_nested_and_multiple_on_one_line():
    assert extract_answer("\\boxed{\\frac{1}{\\sqrt{\\frac{2}{3}}}}", "math") == "\\frac{1}{\\sqrt{\\frac{2}{3}}}"
    assert extract_answer("Thus \\boxed{1}, \\boxed{x+1}", "olympicarena") == "1,x+1"
    assert extract_answer("\\boxed{unbalanced", "math") == ""


# -------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1,200.50", "1200.5"),
        ("+3", "3"),
        ("-0.0", "0"),
        (".5", "0.5"),
        ("007", "7"),
        ("\\dfrac{1}{2}", "\\frac{1}{2}"),
        ("\\frac12", "\\frac{1}{2}"),
        ("\\sqrt2", "\\sqrt{2}"),
        ("\\left( 1, 2 \\right)", "(1,2)"),
        ("x \\in [-2,7]", "x\\in[-2,7]"),
        ("\\text{Evelyn}", "Evelyn"),
        ("10\\%", "10"),
        ("2 \\pi r", "2\\pi r"),
        ("18 dollars", "18"),
        ("2 pi", "2 pi"),  # a math word is not a unit
        ("5!", "5!"),  # the factorial sign is not punctuation
        ("$\\boxed{7}$.", "7"),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected
    assert normalize(normalize(raw)) == normalize(raw)  # idempotent


def test_numbers_are_read_exactly_and_bounded():
    assert to_number("\\frac{3}{4}") == to_number("0.75") == to_number("3/4")
    assert to_number("1\\frac{4}{5}") == to_number("1.8")
    assert to_number("1.2\\times10^{3}") == 1200
    assert to_number("1e999999999") is None  # exponent bound: never builds a huge integer
    assert to_number("9" * 500) is None
    assert to_number("\\sqrt{2}") is None
    assert canonical_number("1,2") is None  # not a thousands separator


# ---------------------------------------------------------------------------- equivalence


@pytest.mark.parametrize(
    "gold, pred, task, expected",
    [
        ("72", "72.00", "gsm8k", True),
        ("1200", "1,200", "gsm8k", True),
        ("Natalia sold 48/2 = 24 clips.\n#### 72", "72", "gsm8k", True),  # gold as a solution
        ("0.5", "1/2", "gsm8k", True),
        ("25", "25%", "gsm8k", True),
        ("75", "1 hour,45 minutes", "gsm8k", False),
        ("2.5", "2 hours 30 minutes", "gsm8k", False),
        ("72", "73", "gsm8k", False),
        ("\\frac{1}{2}", "0.5", "math", True),
        ("\\frac{1}{3}", "0.3333", "math", True),  # >= 4 places: a rounding of 1/3
        ("\\frac{1}{3}", "0.33", "math", False),
        ("3\\sqrt{13}", "\\sqrt{117}", "math", True),
        ("3\\sqrt{13}", "\\sqrt{118}", "math", False),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)", "math", True),
        ("(3,\\frac{\\pi}{2})", "(\\frac{\\pi}{2},3)", "math", False),
        ("(2,\\infty)", "(2, \\infty)", "math", True),
        ("(2,\\infty)", "[2,\\infty)", "math", False),
        ("\\{1,2\\}", "\\{2,1\\}", "math", True),
        ("3, 5, 7", "7, 5, 3", "math", True),
        ("1 \\pm \\sqrt{19}", "1+\\sqrt{19}, 1-\\sqrt{19}", "math", True),
        ("x^2+2x+1", "(x+1)^2", "math", True),
        ("y = -2x", "y=-2x", "math", True),
        ("5", "x=5", "math", True),
        ("6+9i", "9i+6", "math", True),
        ("\\text{(B)}", "B", "math", True),
        ("\\text{even}", "\\text{odd}", "math", False),
        ("145^\\circ", "145", "math", True),
        ("\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}", "\\begin{pmatrix} 0.2 \\\\ -3.6 \\end{pmatrix}", "math", True),
        ("120", "5!", "math", True),
        ("7", "", "math", False),
    ],
)
def test_is_equivalent(gold, pred, task, expected):
    assert is_equivalent(gold, pred, task) is expected


def test_is_equivalent_rejects_bad_arguments():
    with pytest.raises(TypeError):
        is_equivalent("1", None, "math")
    with pytest.raises(ValueError, match="answer type"):
        is_equivalent("1", "1", "olympicarena", answer_type="XYZ")


# ----------------------------------------------------------------- OlympicArena answer types


@pytest.mark.parametrize(
    "gold, pred, answer_type, expected",
    [
        ("B", "B", "SC", True),
        ("B", "(B)", "SC", True),
        ("B", "B: the second option", "SC", True),
        ("B", "A", "SC", False),
        ("B", "A,B", "SC", False),
        (["A", "C"], "A, C", "MC", True),
        (["A", "C"], "C,A", "MC", True),
        (["A", "C"], "AC", "MC", True),
        ('["A", "C"]', "A,C", "MC", True),
        (["A", "C"], "A", "MC", False),
        (["A", "C"], "A,A,C", "MC", False),
        ("True", "true", "TF", True),
        ("True", "False", "TF", False),
        ("True", "Yes", "TF", False),
        ("1.000001", "1.000005", "NV", True),
        ("1.0", "1.001", "NV", False),
        ("6.67\\times10^{-11}", "6.7\\times10^{-11}", "NV", True),
        ("6.67\\times10^{-11}", "6.67e-11", "NV", True),
        ("6.67\\times10^{-11}", "6.67e-10", "NV", False),
        ("32", "2^5", "NV", True),
        ("1,2", "1", "Numerical value", False),
        ("1", "1, 2", "NV", False),
        ("\\{1,2,3\\}", "3,1,2", "SET", True),
        (["1", "2", "3"], "\\{3,2,1\\}", "SET", True),
        (["1", "2"], "1,2,3", "SET", False),
        ("[2,5)", "[2,5)", "IN", True),
        ("[2,5)", "(2,5)", "IN", False),
        ("(-\\infty,1]\\cup[2,\\infty)", "[2,+\\infty)\\cup(-\\infty,1]", "IN", True),
        ("v=\\sqrt{2gh}", "\\sqrt{2hg}", "EX", True),
        ("x^2-1", "(x-1)(x+1)", "EX", True),
        ("x^2-1", "(x-1)^2", "EX", False),
        ("x+y=1", "2x+2y=2", "EQ", True),
        ("x+y=1", "x-y=1", "EQ", False),
        ("x+y=1", "x+y", "EQ", False),
        ("(1,2)", "(1,2)", "TUP", True),
        ("(1,2)", "(2,1)", "TUP", False),
        (["1", "x+1"], "1, 1+x", "MPV:NV,EX", True),
        (["1", "x+1"], "1+x, 1", "MPV:NV,EX", False),
        (["1", "x+1"], "1+x, 1", "MA:NV,EX", True),
        ("5", "5.0", None, True),
        ("True", "True", None, True),
        ("A", "(A)", None, True),
    ],
)
def test_olympicarena_types(gold, pred, answer_type, expected):
    assert is_equivalent(gold, pred, "olympicarena", answer_type=answer_type) is expected


def test_grade_rows_combines_answer_type_and_type_sequence():
    rows = [
        {"response": "The answer is: \\boxed{1}, \\boxed{x+1}", "gold": ["1", "x+1"], "answer_type": "MPV", "type_sequence": ["NV", "EX"]},
        {"response": "The answer is: \\boxed{x+1}, \\boxed{1}", "gold": ["1", "x+1"], "answer_type": "MPV", "type_sequence": ["NV", "EX"]},
        {"response": "The answer is: \\boxed{C}", "gold": ["C"], "answer_type": "SC"},
    ]
    assert [r["correct"] for r in grade_rows(rows, "olympicarena")] == [True, False, True]
    with pytest.raises(InputError, match="row 1: unknown OlympicArena answer type"):
        grade_rows([{"response": "x", "gold": "1", "answer_type": "CODE"}], "olympicarena")


# --------------------------------------------------------------------- matching and grouping


def test_answers_match_is_symmetric_and_empty_never_matches():
    pairs = [("0.5", "\\frac{1}{2}"), ("x=5", "5"), ("(1,2)", "1,2"), ("3", "4"), ("\\sqrt{8}", "2\\sqrt{2}")]
    for a, b in pairs:
        assert answers_match(a, b, "math") == answers_match(b, a, "math")
    assert answers_match("0.5", "\\frac{1}{2}", "math")
    assert not answers_match("3", "4", "math")
    assert not answers_match("", "", "math")
    assert not answers_match("", "0", "gsm8k")
    assert not answers_match("7", "", "gsm8k")


def test_exact_mode_is_normalised_string_match():
    assert answers_match("1,200", "1200.00", "gsm8k", mode="exact")  # normalisation still applies
    assert not answers_match("0.5", "\\frac{1}{2}", "math", mode="exact")
    assert answers_match("0.5", "\\frac{1}{2}", "math", mode="equivalence")
    with pytest.raises(ValueError, match="mode"):
        answers_match("1", "1", "math", mode="fuzzy")


def test_group_answers_labels():
    answers = ["0.5", "\\frac{1}{2}", "", "3", "1/2", "3.0", "x", "\\dfrac{1}{2}"]
    assert group_answers(answers, "math") == [0, 0, -1, 1, 0, 1, 2, 0]
    assert group_answers(answers, "math", mode="exact") == [0, 1, -1, 2, 3, 2, 4, 1]
    assert group_answers(list(reversed(answers)), "math") == [0, 1, 2, 0, 2, -1, 0, 0]
    assert group_answers([], "gsm8k") == []
    assert group_answers(["", ""], "gsm8k") == [-1, -1]
    # deterministic: the same input gives the same labels
    assert group_answers(answers, "math") == group_answers(list(answers), "math")


# ------------------------------------------------------------------------- grade_rows / file


def _rows():
    return [
        {"id": "a", "response": "2 + 2 = 4\n#### 4", "gold": "4"},
        {"id": "b", "response": "#### 5", "gold": "Four plus one.\n#### 6"},
        {"id": "c", "response": "nothing", "gold": "1"},
        {"id": "d", "response": "so 1/2 of it\n#### 0.50", "gold": 0.5},
        {"id": "e", "response": "#### 7x + 11", "gold": "16"},  # goes to the symbolic worker
    ]


@pytest.mark.parametrize("workers", [1, 2])
def test_grade_rows(workers):
    rows = _rows()
    before = json.dumps(rows)
    graded = grade_rows(rows, "gsm8k", workers=workers)
    assert json.dumps(rows) == before  # inputs untouched: new dicts
    assert [r["id"] for r in graded] == ["a", "b", "c", "d", "e"]
    assert [r["pred"] for r in graded] == ["4", "5", "", "0.5", "7x+11"]
    assert [r["correct"] for r in graded] == [True, False, False, True, False]
    assert all(type(r["correct"]) is bool for r in graded)


def test_grade_rows_validates_rows():
    with pytest.raises(InputError, match="row 2: missing field 'gold'"):
        grade_rows([{"response": "#### 1", "gold": "1"}, {"response": "#### 1"}], "gsm8k")
    with pytest.raises(InputError, match="'response' must be a string"):
        grade_rows([{"response": 5, "gold": "1"}], "gsm8k")
    with pytest.raises(ValueError, match="workers"):
        grade_rows([], "gsm8k", workers=0)


def test_grade_file(tmp_path, capsys):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out" / "graded.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    summary = grade_file("gsm8k", src, dst, workers=1)
    assert summary == {"n": 5, "correct": 2, "accuracy": 0.4}
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [r["correct"] for r in out] == [True, False, False, True, False]
    assert out[0]["response"] == _rows()[0]["response"]
    err = capsys.readouterr().err
    assert "2/5 correct" in err and "accuracy 0.4000" in err
    assert sorted(p.name for p in dst.parent.iterdir()) == ["graded.jsonl"]  # no temp files left


def test_grade_file_reports_bad_input(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"response": "#### 1", "gold": "1"}\n{"gold": "2"}\n')
    with pytest.raises(InputError, match="line 2: missing field 'response'"):
        grade_file("gsm8k", src, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()
