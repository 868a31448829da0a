"""Prompts and answer formats of the paper (METHOD.md, "Prompts and answers").

The same zero-shot prompt is used for training and inference; no system text.

- GSM8K, MATH: ``Question: {question}\\nAnswer:``. In-context prompts put k demonstrations, each
  ``Question: ...\\nAnswer: <response>`` followed by a blank line, in front of it.
- OlympicArena: the dataset's own ``prompt`` field (kept by the normaliser as
  ``source_prompt``: the subject, a sentence naming the answer type, how to write options, the
  problem after "problem:", and "Please end your response with: "The final answer is
  $\\boxed{ANSWER}$" ..."), with ``\\n\\nproblem:\\n`` replaced by ``\\n\\nQuestion: `` and
  ``\\n\\nAnswer:`` appended, as the official inference code builds it
  (GAIR-NLP/weak-to-strong-reasoning, src/inference_olympic.py). A demonstration is such a
  prompt, a space, the response and two blank lines (the released few-shot template's layout;
  that template repeats one Biology question four times with other questions' responses, a
  defect we do not copy: our demonstrations are the weak model's own answers to their own
  questions). The answer key is the boxed final answer ("The final answer is $\\boxed{...}$").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .registry import TASKS as _TASKS

# Generation stops at a runaway next question or answer, as in the paper's code.
STOP_STRINGS = ("Question", "Answer")

# The phrase that introduces the final answer in a gold target, per task (w2s.registry.TASKS).
ANSWER_KEYS = {name: task.answer_key for name, task in _TASKS.items()}

TASKS = tuple(ANSWER_KEYS)

_OLYMPIC_PROBLEM = "\n\nproblem:\n"


def zero_shot_prompt(question: str) -> str:
    return f"Question: {question}\nAnswer:"


def olympicarena_prompt(source_prompt: str) -> str:
    """The official zero-shot prompt from an OlympicArena row's ``prompt`` field."""
    return source_prompt.replace(_OLYMPIC_PROBLEM, "\n\nQuestion: ") + "\n\nAnswer:"


def prompt_for(row: Mapping) -> str:
    """The zero-shot prompt of a normalised row: the dataset's own instruction when it has one
    (``source_prompt``, OlympicArena), else ``Question: ...\\nAnswer:``."""
    source = row.get("source_prompt")
    return olympicarena_prompt(source) if source else zero_shot_prompt(row["question"])


def demonstration(question: str, response: str) -> str:
    """One demonstration block; the response is used exactly as the model wrote it."""
    return f"{zero_shot_prompt(question)} {response.strip()}\n\n"


def demonstration_for(row: Mapping, response: str) -> str:
    """One demonstration block for a normalised row (OlympicArena: two blank lines after it)."""
    if row.get("source_prompt"):
        return f"{prompt_for(row)} {response.strip()}\n\n\n"
    return demonstration(row["question"], response)


def few_shot_prompt(demos: Sequence[tuple[str, str]], question: str) -> str:
    """k demonstrations (question, response) then the zero-shot prompt for ``question``."""
    return "".join(demonstration(q, r) for q, r in demos) + zero_shot_prompt(question)


def few_shot_prompt_for(demos: Sequence[Mapping], row: Mapping) -> str:
    """k demonstration rows (with ``response``) then the zero-shot prompt of ``row``."""
    return "".join(demonstration_for(d, d["response"]) for d in demos) + prompt_for(row)


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
    if task == "olympicarena":
        return f"{solution}\n\n{key} $\\boxed{{{answer}}}$"
    return f"{solution} {key} {answer}"


def build_requests(questions: Sequence[dict], demos: Sequence[dict] | None = None) -> list[dict]:
    """Generation requests ``{"id", "prompt"}``: zero-shot, or with the demonstrations in front."""
    demos = list(demos or [])
    return [{"id": q["id"], "prompt": few_shot_prompt_for(demos, q) if demos else prompt_for(q)} for q in questions]
