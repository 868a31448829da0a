"""Stage I final-answer consistency filter (METHOD.md, Stage I step 3), and the optional padding
of the MATH release.

Keep question i when the weak answer is non-empty and equals the strong model's in-context
answer. "Equals" follows ``grading.mode``: the grader's equivalence (``0.5`` and
``\\frac{1}{2}`` agree; OlympicArena answers by the question's answer type), a normalised
string match (``exact``), or the paper code's own rule (``paper``: its normalised strings for
GSM8K/MATH, the OlympicArena judge).

Padding (``pad_to``, off by default). The released MATH iteration-1 sets of the paper's Gemma-2b
and Mistral-7b runs are larger than their consistent subsets: they hold the consistent
questions (the same 448 / 584 as the released ``*_wo_aug`` files, in question order) followed by
inconsistent questions in a shuffled order, up to 1,000 / 2,000 questions, each with its own
side's answer (weak answers in the weak set, ICL answers in the ICL set, both in the hybrid
set). The paper's text does not mention this. ``pad_to: N`` reproduces it: when fewer than N
questions are consistent, a seeded draw of the inconsistent ones fills the sets up to N
questions; the padded records are marked ``"padded": true``. Whether the official code drew the
same questions for both sides is not in the release; we do (so the hybrid set has both answers
of each question, as the released hybrid sets have 2 x N records).
"""

from __future__ import annotations

import random

from . import grading
from .io import require_ids
from .prompts import completion, prompt_for

VARIANTS = ("weak", "icl", "hybrid")


def _records(q: dict, weak_response: str, icl_response: str, weak_answer: str, icl_answer: str,
             padded: bool) -> tuple[dict, dict]:
    prompt = prompt_for(q)
    extra = {"padded": True} if padded else {}
    weak_rec = {"id": q["id"], "prompt": prompt, "completion": completion(weak_response), "answer": weak_answer,
                "source": "weak", **extra}
    icl_rec = {"id": q["id"], "prompt": prompt, "completion": completion(icl_response), "answer": icl_answer,
               "source": "icl", **extra}
    return weak_rec, icl_rec


def consistency_filter(
    questions: list[dict], weak: list[dict], icl: list[dict], task: str, mode: str = grading.DEFAULT_MODE,
    pad_to: int | None = None, seed: int = 0, sources: dict[str, str] | None = None,
) -> tuple[dict[str, list[dict]], dict]:
    """Return the three SFT sets (prompt/completion records) and a summary.

    ``questions``: train_2 rows (id, question; answer_type, type_sequence, source_prompt where
    the dataset has them). ``weak`` / ``icl``: rows (id, response) from the two sides. Every
    record keeps ``id`` and the extracted ``answer`` so its label quality can be measured later
    against the held-back gold. ``pad_to``/``seed``: the padding described in the module docstring.
    ``sources``: the files the three lists came from (keys questions, weak, icl), for messages.
    """
    names = {"questions": "the questions", "weak": "the weak answers", "icl": "the ICL answers", **(sources or {})}
    require_ids(questions, weak, names["weak"], names["questions"])
    require_ids(questions, icl, names["icl"], names["questions"])
    weak_by_id = {r["id"]: r["response"] for r in weak}
    icl_by_id = {r["id"]: r["response"] for r in icl}
    sets: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    n_weak_empty = 0
    inconsistent: list[tuple[dict, str, str]] = []
    for q in questions:
        qid = q["id"]
        weak_answer = grading.matching_answer(weak_by_id[qid], task, mode)
        icl_answer = grading.matching_answer(icl_by_id[qid], task, mode)
        if not weak_answer:
            n_weak_empty += 1
        agree = bool(weak_answer) and grading.answers_match(
            weak_answer, icl_answer, task, mode=mode, answer_type=q.get("answer_type") or None,
            type_sequence=q.get("type_sequence") or None)
        if not agree:
            inconsistent.append((q, weak_answer, icl_answer))
            continue
        weak_rec, icl_rec = _records(q, weak_by_id[qid], icl_by_id[qid], weak_answer, icl_answer, padded=False)
        sets["weak"].append(weak_rec)
        sets["icl"].append(icl_rec)
        sets["hybrid"].extend([weak_rec, icl_rec])
    kept = len(sets["weak"])
    padded = 0
    if pad_to and kept < pad_to and inconsistent:
        draw = random.Random(seed).sample(inconsistent, min(pad_to - kept, len(inconsistent)))
        for q, weak_answer, icl_answer in draw:
            weak_rec, icl_rec = _records(q, weak_by_id[q["id"]], icl_by_id[q["id"]], weak_answer, icl_answer, padded=True)
            sets["weak"].append(weak_rec)
            sets["icl"].append(icl_rec)
            sets["hybrid"].extend([weak_rec, icl_rec])
        padded = len(draw)
    summary = {
        "questions": len(questions),
        "kept": kept,
        "padded": padded,
        "pad_to": pad_to,
        "weak_empty": n_weak_empty,
        "mode": mode,
        "grader": grading.grader_id(mode),
    }
    return sets, summary
