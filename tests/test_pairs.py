"""Stage II vote and pair rules: every branch of METHOD.md, ties and empty answers."""

import pytest

from w2s.pairs import majority_vote, mine_pairs


KEYS = {"gsm8k": "####", "math": "The answer is:"}


def sample(answers, task="gsm8k"):
    return [f"Some steps.\n{KEYS[task]} {a}" if a is not None else "I am not sure." for a in answers]


def run(weak_answer, answers, task="gsm8k", **kw):
    questions = [{"id": "q1", "question": "What is 2+2?"}]
    weak = [{"id": "q1", "response": f"Two and two.\n{KEYS[task]} {weak_answer}" if weak_answer is not None else "no idea"}]
    samples = [{"id": "q1", "responses": sample(answers, task)}]
    return mine_pairs(questions, weak, samples, task=task, **kw)


def test_weak_agrees_with_confident_majority_gives_weak_as_chosen():
    pairs, votes, _ = run(4, [4] * 7 + [5, 6, 6])
    assert votes[0]["decision"] == "weak_chosen"
    assert votes[0]["confidence"] == pytest.approx(0.7)
    assert len(pairs) == 1
    assert pairs[0]["chosen"].strip().endswith("#### 4") and pairs[0]["chosen"].startswith(" Two and two")
    assert pairs[0]["rejected_answer"] in {"5", "6"}
    assert pairs[0]["prompt"] == "Question: What is 2+2?\nAnswer:"


def test_up_to_max_pairs_distinct_rejected_for_math_style():
    pairs, _, _ = run(4, [4] * 7 + [5, 6, 6], max_pairs=3)
    # Three disagreeing samples but only two distinct texts ("#### 6" twice): two pairs.
    assert len(pairs) == 2
    assert len({p["rejected"] for p in pairs}) == 2


def test_all_samples_agree_with_weak_is_too_easy():
    pairs, votes, _ = run(4, [4] * 10)
    assert pairs == [] and votes[0]["decision"] == "too_easy"


def test_low_confidence_is_dropped():
    pairs, votes, _ = run(4, [4] * 5 + [5] * 3 + [6] * 2)
    assert votes[0]["confidence"] == pytest.approx(0.5)
    assert pairs == [] and votes[0]["decision"] == "low_confidence"


def test_confidence_exactly_tau_is_kept():
    _, votes, _ = run(4, [4] * 6 + [5] * 4)
    assert votes[0]["decision"] == "weak_chosen"


def test_weak_disagrees_with_very_confident_majority_is_flipped():
    pairs, votes, _ = run(3, [4] * 8 + [5, 3])
    assert votes[0]["decision"] == "weak_rejected"
    assert len(pairs) == 1
    assert pairs[0]["chosen"].strip().endswith("#### 4") and pairs[0]["rejected"].strip().endswith("#### 3")


def test_weak_disagrees_with_majority_between_tau_and_flip_threshold_is_skipped():
    pairs, votes, _ = run(3, [4] * 7 + [5, 3, 3])
    assert pairs == [] and votes[0]["decision"] == "uncertain_disagreement"


def test_flip_threshold_is_inclusive():
    _, votes, _ = run(3, [4] * 8 + [3, 3])
    assert votes[0]["decision"] == "weak_rejected"


def test_empty_weak_answer_with_confident_majority_is_rejected_side():
    pairs, votes, _ = run(None, [4] * 9 + [5])
    assert votes[0]["decision"] == "weak_rejected"
    assert pairs[0]["rejected"].strip() == "no idea"


def test_empty_majority_is_dropped():
    pairs, votes, _ = run(4, [None] * 7 + [4] * 3)
    assert pairs == [] and votes[0]["decision"] == "empty_majority"


def test_empty_samples_count_as_disagreeing():
    pairs, votes, _ = run(4, [4] * 9 + [None])
    assert votes[0]["decision"] == "weak_chosen"
    assert pairs[0]["rejected"].strip() == "I am not sure."


def test_equivalent_answers_vote_together():
    # 0.5 and 1/2 are one answer under equivalence, two under the paper's exact mode.
    answers = ["0.5"] * 4 + ["1/2"] * 4 + ["3"] * 2
    _, votes, _ = run("0.5", answers, task="math")
    assert votes[0]["confidence"] == pytest.approx(0.8) and votes[0]["decision"] == "weak_chosen"
    _, votes_exact, _ = run("0.5", answers, task="math", mode="exact")
    assert votes_exact[0]["confidence"] == pytest.approx(0.4)


def test_majority_tie_goes_to_first_seen_group():
    assert majority_vote([1, 0, 0, 1]) == (1, 0.5)
    assert majority_vote([-1, -1, 2]) == (-1, pytest.approx(2 / 3))


def test_pair_choice_is_seeded_and_independent_of_question_order():
    questions = [{"id": f"q{i}", "question": f"Q{i}"} for i in range(5)]
    weak = [{"id": q["id"], "response": "x\n#### 4"} for q in questions]
    samples = [{"id": q["id"], "responses": sample([4] * 6 + [1, 2, 3, 5])} for q in questions]
    a, _, _ = mine_pairs(questions, weak, samples, "gsm8k", seed=1)
    b, _, _ = mine_pairs(questions[::-1], weak, samples, "gsm8k", seed=1)
    assert sorted(map(str, a)) == sorted(map(str, b))
    c, _, _ = mine_pairs(questions, weak, samples, "gsm8k", seed=2)
    assert [p["rejected"] for p in a] != [p["rejected"] for p in c]
