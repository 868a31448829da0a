"""Whether a file's golds look like final answers of the task ``w2s grade`` was given.

A gold is a final answer ("72", "\\frac{1}{2}") or a solution ending with the task's answer key
("... #### 72"). Golds of another task (GSM8K solutions graded with ``--task math``) or whole
solutions without the key grade as wrong, row after row: ``w2s grade`` warns before grading.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..prompts import ANSWER_KEYS
from .normalize import to_number

MAX_GOLD_CHARS = 200  # a final answer longer than this is a solution, not an answer
CHECKED_ROWS = 500  # the warning looks at the first rows only


def gold_problem(gold, task: str) -> str | None:
    """Why ``gold`` does not look like a final answer of ``task``; None when it does."""
    from . import _gold_answer

    if isinstance(gold, (list, tuple)):
        return None  # a list of acceptable golds (OlympicArena's multi-part answers)
    text = str(gold).strip()
    if not text:
        return "empty"
    for other, key in ANSWER_KEYS.items():
        if other != task and key in text and ANSWER_KEYS[task] not in text:
            return f"it holds {key!r}, the {other} answer key"
    answer = _gold_answer(text, task)
    if "\n" in answer or len(answer) > MAX_GOLD_CHARS:
        return f"a text of {len(answer)} characters, not a final answer"
    if task == "gsm8k" and to_number(answer) is None:
        return "not a number"
    return None


def gold_warning(rows: Sequence[dict], task: str) -> str | None:
    """A warning when most golds do not look like ``task``'s final answers, naming the task, a
    row and what its gold looks like, and the task they fit if one does; None otherwise."""
    rows = list(rows[:CHECKED_ROWS])
    problems = [(i, why) for i, row in enumerate(rows) if (why := gold_problem(row.get("gold"), task))]
    if not rows or len(problems) * 2 <= len(rows):
        return None
    i, why = problems[0]
    fits = [t for t in ANSWER_KEYS if t != task
            and sum(gold_problem(row.get("gold"), t) is None for row in rows) * 2 > len(rows)]
    hint = f" They look like {fits[0]} golds: --task {fits[0]}?" if fits else " Check the gold field."
    return (f"{len(problems)} of the first {len(rows)} golds do not look like {task} final answers (row {i + 1}: "
            f"{why}: {str(rows[i].get('gold'))[:60]!r}), so they grade as wrong.{hint}")
