"""In-context demonstrations for the strong model (METHOD.md, Stage I step 2).

The demonstrations are the weak model's own answers (not gold, often wrong), fixed for a whole
run. They are drawn with a seed from the weak answers that have a final answer (a demonstration
without one would teach the strong model to ramble), or listed by id for a fidelity run with the
paper's GSM8K choices.
"""

from __future__ import annotations

import random

from .io import InputError


def sample_demonstrations(
    weak_rows: list[dict], k: int, seed: int, ids: list[str] | None = None, has_answer: dict[str, bool] | None = None
) -> list[dict]:
    """Return k rows ``{"id", "question", "response"}`` (+ ``source_prompt``) in a fixed order.

    ``weak_rows``: train_2 questions with the weak response. ``has_answer``: id -> whether an
    answer could be extracted; rows without one are not drawn (listed ids are used as given).
    """
    by_id = {str(r["id"]): r for r in weak_rows}
    if ids:
        missing = [i for i in ids if str(i) not in by_id]
        if missing:
            raise InputError(f"demonstration ids not in the weak answers: {', '.join(map(str, missing))}.")
        chosen = [by_id[str(i)] for i in ids]
    else:
        pool = [r for r in weak_rows if has_answer is None or has_answer.get(str(r["id"]), False)]
        if len(pool) < k:
            raise InputError(
                f"only {len(pool)} weak answers with a final answer; {k} demonstrations were asked for. "
                "Train the weak model longer or lower demonstrations.k."
            )
        # Sort first so the draw does not depend on the order rows arrived in.
        pool = sorted(pool, key=lambda r: str(r["id"]))
        chosen = random.Random(seed).sample(pool, k)
    # The dataset's own prompt (OlympicArena) goes along: a demonstration is written like its prompt.
    return [{"id": str(r["id"]), "question": r["question"], "response": r["response"],
             **({"source_prompt": r["source_prompt"]} if r.get("source_prompt") else {})} for r in chosen]
