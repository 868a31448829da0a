from w2s.consistency import consistency_filter

Q = [{"id": str(i), "question": f"question {i}"} for i in range(5)]


def responses(answers):
    return [{"id": str(i), "response": f"work\n#### {a}" if a is not None else "rambling"} for i, a in enumerate(answers)]


def test_keeps_only_agreeing_non_empty_answers():
    weak = responses([1, 2, None, 4, "1,000"])
    icl = responses([1, 3, None, 4, "1000"])
    sets, summary = consistency_filter(Q, weak, icl, "gsm8k")
    assert [r["id"] for r in sets["weak"]] == ["0", "3", "4"]
    assert summary["kept"] == 3 and summary["weak_empty"] == 1
    # hybrid holds both records of every kept question, weak first.
    assert [(r["id"], r["source"]) for r in sets["hybrid"]][:2] == [("0", "weak"), ("0", "icl")]
    assert len(sets["hybrid"]) == 6


def test_records_are_zero_shot_prompts_without_demonstrations():
    sets, _ = consistency_filter(Q[:1], responses([7]), [{"id": "0", "response": "icl work\n#### 7"}], "gsm8k")
    assert sets["icl"][0]["prompt"] == "Question: question 0\nAnswer:"
    assert sets["icl"][0]["completion"] == " icl work\n#### 7"
    assert sets["weak"][0]["completion"] == " work\n#### 7"


def test_exact_mode_is_the_papers_string_match():
    weak = [{"id": "0", "response": "The answer is: 0.5"}]
    icl = [{"id": "0", "response": "The answer is: \\frac{1}{2}"}]
    q = Q[:1]
    assert consistency_filter(q, weak, icl, "math")[1]["kept"] == 1
    assert consistency_filter(q, weak, icl, "math", mode="exact")[1]["kept"] == 0
