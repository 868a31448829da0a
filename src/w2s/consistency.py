"""Stage I final-answer consistency filter (METHOD.md, Stage I step 3).

Keep question i when the weak answer is non-empty and equals the strong model's in-context
answer. "Equals" is the grader's equivalence (``0.5`` and ``\\frac{1}{2}`` agree) or, for a
fidelity run, the paper's normalised string match (``mode: exact``).
"""

from __future__ import annotations

from . import grading
from .prompts import completion, zero_shot_prompt

VARIANTS = ("weak", "icl", "hybrid")


def consistency_filter(
    questions: list[dict], weak: list[dict], icl: list[dict], task: str, mode: str = grading.DEFAULT_MODE
) -> tuple[dict[str, list[dict]], dict]:
    """Return the three SFT sets (prompt/completion records) and a summary.

    ``questions``: train_2 rows (id, question). ``weak`` / ``icl``: rows (id, response) from the
    two sides. Every record keeps ``id`` and the extracted ``answer`` so its label quality can be
    measured later against the held-back gold.
    """
    weak_by_id = {r["id"]: r["response"] for r in weak}
    icl_by_id = {r["id"]: r["response"] for r in icl}
    sets: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    n_weak_empty = 0
    for q in questions:
        qid = q["id"]
        if qid not in weak_by_id or qid not in icl_by_id:
            raise KeyError(f"question {qid!r} has no {'weak' if qid not in weak_by_id else 'ICL'} answer")
        weak_answer = grading.extract_answer(weak_by_id[qid], task)
        icl_answer = grading.extract_answer(icl_by_id[qid], task)
        if not weak_answer:
            n_weak_empty += 1
            continue
        if not grading.answers_match(weak_answer, icl_answer, task, mode=mode):
            continue
        prompt = zero_shot_prompt(q["question"])
        weak_rec = {"id": qid, "prompt": prompt, "completion": completion(weak_by_id[qid]), "answer": weak_answer, "source": "weak"}
        icl_rec = {"id": qid, "prompt": prompt, "completion": completion(icl_by_id[qid]), "answer": icl_answer, "source": "icl"}
        sets["weak"].append(weak_rec)
        sets["icl"].append(icl_rec)
        sets["hybrid"].extend([weak_rec, icl_rec])
    summary = {
        "questions": len(questions),
        "kept": len(sets["weak"]),
        "weak_empty": n_weak_empty,
        "mode": mode,
        "grader": grading.grader_id(mode),
    }
    return sets, summary
