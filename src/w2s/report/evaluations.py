"""The main table's inputs: graded predictions files and the metrics files beside them.

Every cell is recomputed from its predictions file; the metrics file beside it must agree, or the
job stops (a stale metrics file would otherwise put a number in the table that no prediction
supports). The metrics file names the cell: owner (weak model or ceiling), method, test set, seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import InputError, read_json, read_jsonl


@dataclass(frozen=True)
class Evaluation:
    """One graded predictions file: the questions in file order and whether each was right."""

    seed: int
    owner: str
    method: str
    testset: str
    ids: tuple[str, ...]
    correct: tuple[bool, ...]
    grader: str
    predictions: str
    metrics: str

    @property
    def key(self) -> tuple[int, str, str, str]:
        return (self.seed, self.testset, self.owner, self.method)


def predictions_path(metrics_path: str | Path) -> Path:
    """``<testset>.jsonl`` beside ``<testset>.metrics.json``."""
    path = Path(metrics_path)
    if not path.name.endswith(".metrics.json"):
        raise InputError(f"{path}: a metrics file must be named <testset>.metrics.json beside <testset>.jsonl.")
    return path.with_name(path.name[: -len(".metrics.json")] + ".jsonl")


def load_evaluation(metrics_path: str | Path) -> Evaluation:
    """Read a metrics file and its predictions; they must describe the same answers."""
    m = read_json(metrics_path)
    for key in ("owner", "method", "testset"):
        if not isinstance(m.get(key), str):
            raise InputError(f"{metrics_path}: field '{key}' (string) is missing; rerun the evaluate rule.")
    if isinstance(m.get("seed"), bool) or not isinstance(m.get("seed"), int):
        raise InputError(f"{metrics_path}: field 'seed' (integer) is missing; it was written by an older version "
                         "of the evaluate rule: rerun the evaluate rule for it (delete the file).")
    pred_path = predictions_path(metrics_path)
    rows = read_jsonl(pred_path, {"id": str, "correct": bool})
    correct = tuple(r["correct"] for r in rows)
    # The table is computed from the predictions; the metrics file must agree, else it is stale.
    if m.get("n") != len(rows) or m.get("correct") != sum(correct):
        raise InputError(
            f"{metrics_path}: says n={m.get('n')}, correct={m.get('correct')} but {pred_path} has "
            f"{len(rows)} rows, {sum(correct)} correct. One of the two is stale: rerun the evaluate rule "
            "for it (delete both files)."
        )
    return Evaluation(seed=m["seed"], owner=m["owner"], method=m["method"], testset=m["testset"],
                      ids=tuple(r["id"] for r in rows), correct=correct, grader=str(m.get("grader", "unknown")),
                      predictions=str(pred_path), metrics=str(metrics_path))


def load_evaluations(metrics_paths: Sequence[str | Path], seeds: Sequence[int]) -> list[Evaluation]:
    """Every metrics file (sorted by path), each cell once, each seed one of ``seeds``."""
    evals = [load_evaluation(p) for p in sorted(map(str, metrics_paths))]
    seen: dict[tuple, str] = {}
    for e in evals:
        if e.seed not in seeds:
            raise InputError(f"{e.metrics}: seed {e.seed} is not one of the experiment's seeds {list(seeds)}; "
                             "the file is stale or misplaced: rerun the evaluate rule for it.")
        if e.key in seen:
            raise InputError(f"{e.metrics} and {seen[e.key]} both claim (seed, test set, owner, method) = {e.key}; "
                             "each cell needs exactly one file.")
        seen[e.key] = e.metrics
    return evals


def aligned(e: Evaluation, ref_ids: tuple[str, ...]) -> np.ndarray:
    """The 0/1 vector of ``e`` in the reference question order (the same test file's order)."""
    if e.ids == ref_ids:
        return np.fromiter(e.correct, dtype=np.int64, count=len(e.correct))
    if sorted(e.ids) != sorted(ref_ids):
        missing = sorted(set(ref_ids) - set(e.ids))[:3]
        extra = sorted(set(e.ids) - set(ref_ids))[:3]
        raise InputError(
            f"{e.predictions}: its questions differ from the other predictions on test set '{e.testset}' "
            f"(seed {e.seed}; missing {missing}, extra {extra}); all methods of a seed must answer the same "
            "test file."
        )
    by_id = dict(zip(e.ids, e.correct))
    return np.fromiter((by_id[i] for i in ref_ids), dtype=np.int64, count=len(ref_ids))
