"""Stage II: confidence from n samples, and preference pairs (METHOD.md, Stage II).

For each train_2 question, ``M_plus`` gave n samples. The answers are grouped (equivalence or
the paper's exact string match), the most common group is the majority (a tie goes to the group
seen first in sample order, which is seeded and so reproducible) and its share is the confidence.

- confidence < tau, or an empty majority answer: drop the question.
- weak answer == majority and some sample disagrees: chosen = the weak response, rejected = a
  disagreeing sample (up to ``max_pairs`` distinct ones).  No disagreeing sample: too easy, skip.
- weak answer != majority and confidence >= flip_threshold: chosen = a majority sample (up to
  ``max_pairs`` distinct ones), rejected = the weak response.
- otherwise skip.
Which disagreeing / majority samples are used is a seeded draw per question.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter

from . import grading, registry
from .config import schema_default
from .io import require_ids
from .prompts import completion, prompt_for

# The decision recorded per question in the votes (and the kind of each pair), in the order the
# rules above apply, with the words the data-quality table labels its rows with.
DECISIONS = {
    "low_confidence": "confidence below tau (dropped)",
    "empty_majority": "no majority answer (dropped)",
    "too_easy": "every sample agrees with the weak answer (no pair)",
    "weak_chosen": "weak answer chosen",
    "weak_rejected": "weak answer rejected",
    "uncertain_disagreement": "majority differs from the weak answer, below the flip threshold (no pair)",
}


def question_seed(seed: int, qid: str) -> int:
    """A per-question seed that does not depend on the order questions are processed in."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{qid}".encode()).digest()[:8], "big")


def majority_vote(labels: list[int]) -> tuple[int, float]:
    """The most common group label and its share; a tie goes to the label seen first.

    Labels come from ``grading.group_answers``; -1 (no answer) counts as one group of its own,
    so a question where most samples give no answer has an empty majority and is dropped.
    """
    counts = Counter(labels)
    first_seen = {lab: labels.index(lab) for lab in counts}
    majority = min(counts, key=lambda lab: (-counts[lab], first_seen[lab]))
    return majority, counts[majority] / len(labels)


def _distinct(responses: list[str], k: int, rng: random.Random) -> list[str]:
    unique = list(dict.fromkeys(r.strip() for r in responses))
    rng.shuffle(unique)
    return unique[:k]


def mine_pairs(
    questions: list[dict],
    weak: list[dict],
    samples: list[dict],
    task: str,
    tau: float = schema_default("experiments.*.stage2.tau"),
    flip_threshold: float = schema_default("experiments.*.stage2.flip_threshold"),
    max_pairs: int | None = None,
    mode: str = grading.DEFAULT_MODE,
    seed: int = 0,
    sources: dict[str, str] | None = None,
) -> tuple[list[dict], list[dict], dict]:
    """Return (pairs, votes, summary). Pairs are prompt/chosen/rejected records for TRL.

    Defaults are config/schema.yaml's; ``max_pairs`` None: the task's (w2s.registry.TASKS).
    ``sources``: the files the lists came from (keys questions, weak, samples), for messages.
    """
    names = {"questions": "the questions", "weak": "the weak answers", "samples": "the samples", **(sources or {})}
    require_ids(questions, weak, names["weak"], names["questions"])
    require_ids(questions, samples, names["samples"], names["questions"], what="samples")
    if max_pairs is None:
        max_pairs = registry.TASKS[task].max_pairs
    weak_by_id = {r["id"]: r["response"] for r in weak}
    samples_by_id = {r["id"]: r["responses"] for r in samples}
    pairs: list[dict] = []
    votes: list[dict] = []
    decisions: Counter = Counter()
    for q in questions:
        vote, mined = _question_pairs(q, samples_by_id[q["id"]], weak_by_id[q["id"]], task, tau, flip_threshold,
                                      max_pairs, mode, seed)
        decisions[vote["decision"]] += 1
        votes.append(vote)
        pairs += mined
    summary = {"questions": len(questions), "pairs": len(pairs), "decisions": dict(sorted(decisions.items())),
               "tau": tau, "flip_threshold": flip_threshold, "max_pairs": max_pairs, "mode": mode,
               "grader": grading.grader_id(mode)}
    return pairs, votes, summary


def _question_pairs(q: dict, responses: list[str], weak_response: str, task: str, tau: float, flip_threshold: float,
                    max_pairs: int, mode: str, seed: int) -> tuple[dict, list[dict]]:
    """One question's vote (with the decision METHOD.md's rules take) and its pairs."""
    qid = q["id"]
    preds = [grading.matching_answer(r, task, mode) for r in responses]
    weak_pred = grading.matching_answer(weak_response, task, mode)
    # Group the weak answer with the samples so "weak == majority" uses the same equivalence,
    # with the question's answer type where the dataset has one (OlympicArena).
    all_labels = grading.group_answers(preds + [weak_pred], task, mode=mode,
                                       answer_type=q.get("answer_type") or None,
                                       type_sequence=q.get("type_sequence") or None)
    labels, weak_label = all_labels[:-1], all_labels[-1]
    majority, confidence = majority_vote(labels)
    majority_pred = preds[labels.index(majority)] if majority != -1 else ""
    rng = random.Random(question_seed(seed, qid))
    prompt = prompt_for(q)
    pairs = []
    if confidence < tau:
        decision = "low_confidence"
    elif majority == -1 or not majority_pred:
        decision = "empty_majority"
    elif weak_pred and weak_label == majority:
        disagreeing = [r for r, lab in zip(responses, labels) if lab != majority]
        decision = "weak_chosen" if disagreeing else "too_easy"
        for rejected in _distinct(disagreeing, max_pairs, rng):
            pairs.append({"id": qid, "prompt": prompt, "chosen": completion(weak_response),
                          "rejected": completion(rejected), "kind": decision, "confidence": confidence,
                          "chosen_answer": weak_pred, "rejected_answer": grading.matching_answer(rejected, task, mode)})
    elif confidence >= flip_threshold:
        decision = "weak_rejected"
        agreeing = [r for r, lab in zip(responses, labels) if lab == majority]
        for chosen in _distinct(agreeing, max_pairs, rng):
            pairs.append({"id": qid, "prompt": prompt, "chosen": completion(chosen),
                          "rejected": completion(weak_response), "kind": decision, "confidence": confidence,
                          "chosen_answer": majority_pred, "rejected_answer": weak_pred})
    else:
        decision = "uncertain_disagreement"
    vote = {"id": qid, "majority": majority_pred, "confidence": confidence, "weak_answer": weak_pred,
            "decision": decision}
    return vote, pairs
