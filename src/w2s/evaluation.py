"""Evaluation of one model on one test set, and pass@k of the stage II samples."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from . import grading
from .config import schema_default
from .data import gold_of
from .io import read_jsonl, write_json, write_jsonl
from .metrics import accuracy, mean_pass_at_k
from .prompts import build_requests
from .workflow import job_engine

log = logging.getLogger(__name__)


def grade_by_modes(rows: list[dict], task: str, modes: tuple[str, ...], workers: int) -> list[dict]:
    """Grade rows under each accuracy mode: ``pred``/``correct`` from the first mode, and
    ``correct_by_mode`` ({mode: bool}) for all of them."""
    graded_by_mode = {m: grading.grade_rows(rows, task, workers=workers, mode=m) for m in modes}
    first = graded_by_mode[modes[0]]
    return [dict(row, correct_by_mode={m: bool(graded_by_mode[m][i]["correct"]) for m in modes})
            for i, row in enumerate(first)]


def grading_rows(test: list[dict], responses: Mapping[str, str]) -> list[dict]:
    """Rows for the grader: response, gold (an answer list for multi-part answers) and the
    question's answer type and type sequence where the dataset has them (OlympicArena)."""
    rows = []
    for t in test:
        row = {"id": t["id"], "question": t["question"], "response": responses[t["id"]], "gold": gold_of(t)}
        row.update({k: t[k] for k in ("answer_type", "type_sequence") if t.get(k)})
        rows.append(row)
    return rows


def evaluate(
    test_path: str, demos_path: str | None, model: str, task: str, engine: dict, sampling: dict, gpus: int,
    work_dir: str, threads: int, workers: int, predictions_path: str, metrics_path: str, info: Mapping,
    modes: tuple[str, ...] = tuple(schema_default("grading.accuracy")),
) -> dict:
    """Greedy answers (resumable in ``work_dir``), graded under each of ``modes`` (the first is
    the table's main accuracy); returns and writes the metrics."""
    from . import generation  # torch and the backends load only for jobs that generate

    modes = tuple(modes)
    test = read_jsonl(test_path, {"id": str, "question": str, "answer": str})
    demos = read_jsonl(demos_path) if demos_path else None
    raw = f"{work_dir}/generations.jsonl"
    gen_metrics = generation.generate_file(
        build_requests(test, demos), raw, model, generation.SamplingConfig(**sampling), job_engine(engine, gpus),
        work_dir=work_dir, threads=threads, metrics_path=f"{work_dir}/generation.metrics.json",
    )
    responses = {r["id"]: r["responses"][0] for r in read_jsonl(raw)}
    graded = grade_by_modes(grading_rows(test, responses), task, modes, workers)
    write_jsonl(predictions_path, graded)
    correct = [bool(r["correct"]) for r in graded]
    metrics = {**info, "model": model, "task": task, "n": len(graded), "correct": sum(correct),
               "accuracy": accuracy(correct), "answered": sum(bool(r["pred"]) for r in graded),
               "grader": grading.grader_id(modes[0]),
               "accuracy_by_mode": {m: accuracy([r["correct_by_mode"][m] for r in graded]) for m in modes},
               "graders": {m: grading.grader_id(m) for m in modes},
               "generation": {k: v for k, v in (gen_metrics or {}).items()
                              if k in ("backend", "generated_tokens", "prompt_tokens_computed")}}
    write_json(metrics_path, metrics)
    return metrics


def grade_samples(samples_path: str, gold_path: str, task: str, output_path: str, workers: int = 1) -> dict:
    """pass@k for k = 1..n over the questions (unbiased estimator), and the mean sample accuracy."""
    gold = {g["id"]: g for g in read_jsonl(gold_path, {"id": str, "answer": str})}
    samples = read_jsonl(samples_path, {"id": str, "responses": list[str]})
    rows = [{"response": resp, "gold": gold_of(gold[s["id"]]),
             **{k: gold[s["id"]][k] for k in ("answer_type", "type_sequence") if gold[s["id"]].get(k)}}
            for s in samples for resp in s["responses"]]
    graded = grading.grade_rows(rows, task, workers=workers)
    counts, i = [], 0
    for s in samples:
        n = len(s["responses"])
        counts.append((n, sum(bool(g["correct"]) for g in graded[i:i + n])))
        i += n
    n = min(c[0] for c in counts)
    result = {"n": n, "questions": len(samples), "grader": grading.GRADER_ID,
              "sample_accuracy": sum(c for _, c in counts) / sum(m for m, _ in counts),
              "pass_at_k": {str(k): mean_pass_at_k(counts, k) for k in range(1, n + 1)}}
    write_json(output_path, result)
    return result
