"""The toy world's synthetic pretraining text: raw equations and word problems in several formats.

``cfg`` holds the text's settings (``equation_share``, ``target_format_share``,
``max_docs_per_row``) and its problems' shape (``max_steps``, ``max_operand``, ``max_value``):
a validated toy model (``models.<name>.toy``), or the tokenizer's format sample with toy.data.
"""

from __future__ import annotations

import random

from .problems import draw_problem, strip_notes

# Formats of the pretraining text. A row (one training sequence) holds 1..max_docs_per_row documents
# in ONE format, separated by a blank line like the demonstrations of a few-shot prompt: the format
# of a row's first documents predicts the rest, so the model can learn to follow the format that
# in-context demonstrations show. The task's exact format (Question/Answer, steps, "#### N") is
# one format among several, with share target_format_share of the rows; the "Question: ...
# Answer:" prefix also comes with other endings, so zero-shot the model mostly ends in a format of
# its own (measured: without any target format it never wrote "####", even after 4 demonstrations).
_PREFIXES = (("Question: ", "\nAnswer: "), ("Problem: ", "\nSolution: "), ("Q: ", "\nA: "))
_ENDINGS = ("The answer is {}.", "So the final answer is {}.", "The result is {}.", "Result: {}",
            "In total: {}.")
TARGET_ENDING = "#### {}"


def _equations(rng: random.Random, cfg: dict, n_lines: int) -> str:
    """Raw arithmetic facts: half from problems' own steps (the values they reach), half uniform."""
    max_operand = int(cfg["max_operand"])
    max_value = int(cfg["max_value"])
    lines: list[str] = []
    while len(lines) < n_lines:
        if rng.random() < 0.5:
            lines.extend(draw_problem(rng, cfg)["equations"])
            continue
        op = rng.choice("+-*")
        if op == "+":
            b = rng.randint(1, max_operand)
            a = rng.randint(0, max_value - b)
            lines.append(f"{a} + {b} = {a + b}")
        elif op == "-":
            b = rng.randint(1, max_operand)
            a = rng.randint(b, max_value)
            lines.append(f"{a} - {b} = {a - b}")
        else:
            k = rng.randint(2, max(2, max_operand // 2))
            a = rng.randint(1, max(1, max_value // k))
            lines.append(f"{a} * {k} = {a * k}" if rng.random() < 0.5 else f"{k} * {a} = {a * k}")
    return "\n".join(lines[:n_lines])


def _row(rng: random.Random, cfg: dict, exclude: set[str], n_docs: int, equation_share: float,
         target_share: float, seen: set[str] | None) -> str:
    u = rng.random()
    if u < equation_share:
        return "\n\n".join(_equations(rng, cfg, rng.randint(8, 16)) for _ in range(n_docs))
    if u < equation_share + target_share:
        (head, mid), ending, terse = _PREFIXES[0], TARGET_ENDING, False
    else:
        (head, mid), ending, terse = rng.choice(_PREFIXES), rng.choice(_ENDINGS), rng.random() < 0.2
    docs = []
    for _ in range(n_docs):
        while True:
            p = draw_problem(rng, cfg)
            if p["question"] not in exclude:
                break
        if seen is not None:
            seen.add(p["question"])
        if terse:
            steps = ". ".join(p["equations"]) + "."
        else:
            steps = strip_notes(p["solution"]).rsplit("\n####", 1)[0]
        docs.append(f"{head}{p['question']}{mid}{steps}\n{ending.format(p['answer'])}")
    return "\n\n".join(docs)


def pretraining_text(n_rows: int, seed: int, cfg: dict, exclude: set[str],
                     docs_per_row: int | None = None, seen: set[str] | None = None) -> list[str]:
    """``n_rows`` seeded pretraining sequences; no problem whose question is in ``exclude``.

    A row is equations (share ``equation_share``) or 1..``max_docs_per_row`` problems with their
    solutions in one format; rows in the task's answer format (``#### N``) have share
    ``target_format_share``, the others end "The answer is N." and the like. ``docs_per_row``
    fixes the number of documents per row (batches of equal-length rows pad little). ``seen``, if
    given, receives the question of every problem written (the draws are the same either way).
    """
    rng = random.Random(seed)
    eq = float(cfg["equation_share"])
    tgt = float(cfg["target_format_share"])
    max_docs = int(cfg["max_docs_per_row"])
    if not (0 <= eq and 0 <= tgt and eq + tgt <= 1):
        raise ValueError(f"equation_share ({eq}) and target_format_share ({tgt}) must be >= 0 "
                         "and sum to <= 1")
    return [_row(rng, cfg, exclude, docs_per_row or rng.randint(1, max_docs), eq, tgt, seen)
            for _ in range(n_rows)]
