"""Prompts and answer formats of the paper (METHOD.md, "Prompts and answers").

The same zero-shot prompt is used for training and inference; no system text. In-context
prompts put k demonstrations, each ``Question: ...\\nAnswer: <response>`` followed by a blank
line, in front of the zero-shot prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

from .registry import TASKS as _TASKS

# Generation stops at a runaway next question or answer, as in the paper's code.
STOP_STRINGS = ("Question", "Answer")

# The phrase that introduces the final answer in a gold target, per task (w2s.registry.TASKS).
ANSWER_KEYS = {name: task.answer_key for name, task in _TASKS.items()}

TASKS = tuple(ANSWER_KEYS)


def zero_shot_prompt(question: str) -> str:
    return f"Question: {question}\nAnswer:"


def demonstration(question: str, response: str) -> str:
    """One demonstration block; the response is used exactly as the model wrote it."""
    return f"{zero_shot_prompt(question)} {response.strip()}\n\n"


def few_shot_prompt(demos: Sequence[tuple[str, str]], question: str) -> str:
    """k demonstrations (question, response) then the zero-shot prompt for ``question``."""
    return "".join(demonstration(q, r) for q, r in demos) + zero_shot_prompt(question)


def completion(response: str) -> str:
    """A training target after the prompt: one leading space, the model's or gold text."""
    return " " + response.strip()


def gold_target(solution: str, answer: str, task: str) -> str:
    """The gold SFT target: the solution ending with the task's answer key and the answer."""
    key = ANSWER_KEYS[task]
    solution = solution.strip()
    if not solution:  # a dataset with final answers only (format jsonl without a solution field)
        return f"{key} {answer}"
    if task == "gsm8k":
        # GSM8K solutions already end with "#### N"; the normaliser strips <<calc>> notes.
        return solution if key in solution else f"{solution}\n{key} {answer}"
    return f"{solution} {key} {answer}"


def build_requests(questions: Sequence[dict], demos: Sequence[dict] | None = None) -> list[dict]:
    """Generation requests ``{"id", "prompt"}``: zero-shot, or with the demonstrations in front."""
    pairs = [(d["question"], d["response"]) for d in demos or []]
    return [{"id": q["id"], "prompt": few_shot_prompt(pairs, q["question"]) if pairs else zero_shot_prompt(q["question"])}
            for q in questions]
