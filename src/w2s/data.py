"""Normalised splits: every dataset becomes the same JSONL rows.

A normalised row is ``{"id", "question", "answer", "solution"}`` (+ ``answer_type``,
``type_sequence``, ``answers`` and ``source_prompt`` for OlympicArena): ``answer`` is the final gold answer, ``solution`` the gold SFT target ending with
the task's answer key (METHOD.md, "Prompts and answers"). ``train_2`` is written twice: the
questions the method may see (``train_2.jsonl``: id, question) and the gold kept aside for the
strong ceiling and for analysis (``train_2.gold.jsonl``).

Sources (one per split in the config, read by ``w2s.sources``): a local JSON/JSONL/Parquet file,
an http(s) URL of one, or a Hugging Face dataset ``hf://owner/name`` with ``config`` / ``split``
(several configs are concatenated, as OlympicArena's subjects are).

How raw rows become normalised rows is the dataset's ``format`` (w2s.registry.FORMATS): the
GSM8K, MATH and OlympicArena layouts, or ``jsonl``, any rows with a field mapping and an answer
rule (``normalise_mapped``). The ``task`` decides the answer key of the gold target.
"""

from __future__ import annotations

import re

from . import registry
from .io import InputError
from .prompts import ANSWER_KEYS, gold_target
from .sources import DOWNLOAD_CACHE, is_local_source, load_source  # noqa: F401 - the data API

_CALC_NOTE = re.compile(r"<<[^<>]*>>")
# OlympicArena answer types the paper drops (program code, open-ended text).
OLYMPIC_EXCLUDED_TYPES = ("CODE", "OT")


def strip_calculator_notes(text: str) -> str:
    """GSM8K's ``<<48/2=24>>`` annotations are tool calls, not reasoning: the paper removes them."""
    return _CALC_NOTE.sub("", text)


def gsm8k_final_answer(solution: str) -> str:
    """The number after the last ``####`` of a GSM8K solution, commas removed."""
    if "####" not in solution:
        return ""
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def last_boxed(text: str) -> str:
    """Content of the last ``\\boxed{...}`` (nested braces allowed), or ''."""
    start = text.rfind("\\boxed")
    if start < 0:
        return ""
    i = text.find("{", start)
    if i < 0:
        return ""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j].strip()
    return ""


def _row_id(prefix: str, index: int, raw: dict) -> str:
    for key in ("id", "unique_id", "idx"):
        if key in raw and raw[key] is not None and str(raw[key]) != "":
            return str(raw[key])
    return f"{prefix}-{index}"


def _text(raw: dict, keys: tuple[str, ...], where: str) -> str:
    for key in keys:
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if value is not None and not isinstance(value, str):
            raise InputError(f"{where}: field '{key}' must be a string, got {type(value).__name__}.")
    raise InputError(
        f"{where}: no non-empty text in any of the fields {', '.join(keys)} "
        f"(fields present: {', '.join(sorted(raw)) or 'none'}). This format reads those fields; for rows with other "
        "field names set the dataset's format: jsonl and name them in its fields (datasets.<name>.fields)."
    )


def normalise_gsm8k(raw: dict, index: int, where: str) -> dict:
    question = _text(raw, ("question",), where)
    # Raw GSM8K keeps the solution in "answer"; the paper's test file splits solution/answer.
    solution_raw = raw.get("solution") if isinstance(raw.get("solution"), str) else raw.get("answer")
    if not isinstance(solution_raw, str) or "####" not in solution_raw:
        raise InputError(f"{where}: GSM8K rows need a solution ending in '#### N' (field 'answer' or 'solution').")
    solution = strip_calculator_notes(solution_raw).strip()
    answer = gsm8k_final_answer(solution)
    if not answer:
        raise InputError(f"{where}: the solution has '####' but no answer after it.")
    return {"id": _row_id("gsm8k", index, raw), "question": question.strip(), "answer": answer,
            "solution": gold_target(solution, answer, "gsm8k")}


def normalise_math(raw: dict, index: int, where: str) -> dict:
    question = _text(raw, ("problem", "question"), where)
    solution = _text(raw, ("solution",), where).strip()
    answer = raw.get("answer") if isinstance(raw.get("answer"), str) and raw["answer"].strip() else last_boxed(solution)
    if not answer:
        raise InputError(f"{where}: MATH rows need an 'answer' field or a \\boxed{{}} in the solution.")
    row = {"id": _row_id("math", index, raw), "question": question.strip(), "answer": answer.strip(),
           "solution": gold_target(solution, answer.strip(), "math")}
    for key in ("subject", "level"):
        if key in raw:
            row[key] = raw[key]
    return row


def normalise_olympicarena(raw: dict, index: int, where: str) -> dict | None:
    """OlympicArena (HF ``GAIR/OlympicArena``): English, not CODE/OT.

    Keeps what the official prompts and judge need: the dataset's own ``prompt`` field as
    ``source_prompt`` (w2s.prompts.prompt_for builds the official prompt from it), the
    ``answer_type``, the ``type_sequence`` of multi-part answers and the answer list
    (``answers``; ``answer`` joins it with ", " for display).
    """
    if raw.get("language", "EN") != "EN" or raw.get("answer_type") in OLYMPIC_EXCLUDED_TYPES:
        return None
    question = _text(raw, ("problem", "question", "prompt"), where)
    answer = raw.get("answer", raw.get("final_answer"))
    answers = [str(a) for a in answer] if isinstance(answer, list) else None
    answer = ", ".join(answers) if answers is not None else ("" if answer is None else str(answer).strip())
    solution = raw.get("solution")
    if isinstance(solution, list):
        solution = "\n".join(str(s) for s in solution)
    row = {"id": _row_id("olympicarena", index, raw), "question": question.strip(), "answer": answer,
           "solution": gold_target(solution or "", answer, "olympicarena") if answer else "",
           "answer_type": str(raw.get("answer_type") or "")}
    if answers is not None:
        row["answers"] = answers
    sequence = raw.get("type_sequence")
    if sequence is not None and not (isinstance(sequence, list) and all(isinstance(t, str) for t in sequence)):
        raise InputError(f"{where}: field 'type_sequence' must be a list of answer types, got {sequence!r}.")
    row["type_sequence"] = sequence or None
    if isinstance(raw.get("prompt"), str) and raw["prompt"].strip():
        row["source_prompt"] = raw["prompt"]
    if raw.get("subject"):
        row["subject"] = raw["subject"]
    return row


def _raw_field(raw: dict, field: str, where: str) -> str:
    value = raw.get(field)
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InputError(f"{where}: field '{field}' must be a string or a number, got {type(value).__name__}.")
    return value.strip()


def extract_gold(rule, answer: str, solution: str) -> str:
    """The final gold answer by the dataset's ``answer_from`` rule (see config/schema.yaml)."""
    if rule == "field":
        return answer
    if rule == "boxed":
        return last_boxed(solution)
    if "after" in rule:
        return solution.rsplit(rule["after"], 1)[1].strip() if rule["after"] in solution else ""
    matches = list(re.finditer(rule["regex"], solution))
    if not matches:
        return ""
    last = matches[-1]
    return (last.group(1) if last.re.groups else last.group(0)).strip()


def normalise_mapped(raw: dict, index: int, where: str, rule: dict) -> dict:
    """Format ``jsonl``: ``rule["fields"]`` names the raw fields, ``rule["answer_from"]`` the answer."""
    fields, task = rule["fields"], rule["task"]
    question = _raw_field(raw, fields["question"], where)
    if not question:
        raise InputError(f"{where}: no question in field '{fields['question']}' (fields present: "
                         f"{', '.join(sorted(raw)) or 'none'}). Check datasets.{rule.get('name', '<name>')}.fields.question.")
    solution = _raw_field(raw, fields["solution"], where) if "solution" in fields else ""
    answer = extract_gold(rule["answer_from"], _raw_field(raw, fields.get("answer", ""), where), solution)
    if not answer:
        raise InputError(f"{where}: no final answer by answer_from {rule['answer_from']!r} "
                         f"(fields {', '.join(f for f in (fields.get('answer'), fields.get('solution')) if f)}).")
    row_id = _raw_field(raw, fields["id"], where) if "id" in fields else ""
    return {"id": row_id or f"row-{index}", "question": question, "answer": answer,
            "solution": gold_target(solution, answer, task)}


def _normaliser(dataset: dict):
    spec = registry.FORMATS[dataset["format"]]
    fn = registry.load(spec.normaliser)
    return (lambda raw, index, where: fn(raw, index, where, dataset)) if spec.mapped else fn


def dataset_rule(dataset: str | dict) -> dict:
    """A datasets.<name> block (task, format, fields, answer_from), or a task name in its own format."""
    if isinstance(dataset, str):
        return {"task": dataset, "format": registry.TASKS[dataset].format}
    return {**dataset, "format": dataset.get("format") or registry.TASKS[dataset["task"]].format}


def normalise_split(dataset: str | dict, spec: dict, split: str, name: str = "<name>",
                    record: dict | None = None) -> list[dict]:
    """Load one split and normalise it; ``spec`` may carry ``limit`` (first N rows) and ``subjects``.

    ``dataset``: the datasets.<name> config block (task, format, fields, answer_from), or a task
    name for a source in that task's own format. ``name``: the dataset's name, for messages.
    ``record``: filled with what was read (w2s.sources.load_source).
    """
    rule = {**dataset_rule(dataset), "name": name}
    task, normalise = rule["task"], _normaliser(rule)
    rows: list[dict] = []
    where_base = spec["path"]
    key = f"datasets.{name}.source.{split}.path"
    subjects = spec.get("subjects")
    for index, raw in enumerate(load_source(spec, key=key, record=record)):
        if not isinstance(raw, dict):
            raise InputError(f"{where_base}, row {index + 1}: expected an object, got {type(raw).__name__} ({key}).")
        if subjects and raw.get("subject") not in subjects:
            continue
        try:
            row = normalise(raw, index, f"{where_base}, row {index + 1}")
        except InputError as e:
            raise InputError(f"{e} (dataset source: {key})") from None
        if row is not None:
            rows.append(row)
        if spec.get("limit") and len(rows) >= spec["limit"]:
            break
    if not rows:
        raise InputError(f"{where_base}: split '{split}' is empty after normalisation. Check the source and its filters "
                         f"({key}, and subjects / limit beside it).")
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        if row["id"] in seen:
            raise InputError(f"{where_base}: duplicate id {row['id']!r} (rows {seen[row['id']] + 1} and {i + 1} after "
                             f"normalisation; {key}). Every row needs a distinct id.")
        seen[row["id"]] = i
    answer_key = ANSWER_KEYS[task]
    solved = [r for r in rows if r["solution"]]
    if split != "train_2" and solved and not any(answer_key in r["solution"] for r in solved):
        raise InputError(f"{where_base}: no gold solution contains the answer key '{answer_key}' of task '{task}' "
                         f"({key}); is datasets.{name}.task right?")
    return rows


def check_disjoint(train_2: list[dict], test: list[dict], where: str) -> None:
    """A test question that is also in train_2 leaks the evaluation into training."""
    questions = {r["question"].strip() for r in train_2}
    overlap = [r["id"] for r in test if r["question"].strip() in questions]
    if overlap:
        raise InputError(
            f"{where}: {len(overlap)} test question(s) also appear in train_2 (first ids: {', '.join(overlap[:5])}). "
            "Remove them from one split."
        )


# Fields of a normalised row that the method may see besides id and question (how to prompt,
# which answer type to expect); the gold answer and solution stay in train_2.gold.jsonl.
PUBLIC_FIELDS = ("answer_type", "type_sequence", "source_prompt")
GOLD_FIELDS = ("answer", "answers", "solution", "answer_type", "type_sequence")


def split_questions(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """train_2 as the method sees it (no gold) and the gold kept aside."""
    public, gold = [], []
    for r in rows:
        public.append({"id": r["id"], "question": r["question"], **{k: r[k] for k in PUBLIC_FIELDS if k in r}})
        gold.append({"id": r["id"], **{k: r[k] for k in GOLD_FIELDS if k in r}})
    return public, gold


def gold_of(row: dict):
    """The gold a grader compares with: the answer list of a multi-part answer, else the answer."""
    answers = row.get("answers")
    return list(answers) if answers and len(answers) > 1 else row["answer"]
