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


def _correct(rows: list[dict], pred_path: Path, mode: str | None) -> tuple[bool, ...]:
    """Each row's decision: ``correct`` (the first accuracy mode) or ``correct_by_mode[mode]``."""
    if mode is None:
        return tuple(r["correct"] for r in rows)
    out = []
    for i, r in enumerate(rows):
        value = (r.get("correct_by_mode") or {}).get(mode)
        if not isinstance(value, bool):
            raise InputError(f"{pred_path}, row {i + 1}: no decision of the accuracy mode '{mode}' "
                             "(field correct_by_mode); it was graded before grading.accuracy listed that mode: "
                             "rerun the evaluate rule for it.")
        out.append(value)
    return tuple(out)


def load_evaluation(metrics_path: str | Path, accuracy_mode: str | None = None) -> Evaluation:
    """Read a metrics file and its predictions; they must describe the same answers.

    ``accuracy_mode``: read that grader's decisions (``correct_by_mode``) instead of ``correct``."""
    m = read_json(metrics_path)
    for key in ("owner", "method", "testset"):
        if not isinstance(m.get(key), str):
            raise InputError(f"{metrics_path}: field '{key}' (string) is missing; rerun the evaluate rule.")
    if isinstance(m.get("seed"), bool) or not isinstance(m.get("seed"), int):
        raise InputError(f"{metrics_path}: field 'seed' (integer) is missing; it was written by an older version "
                         "of the evaluate rule: rerun the evaluate rule for it (delete the file).")
    pred_path = predictions_path(metrics_path)
    rows = read_jsonl(pred_path, {"id": str, "correct": bool})
    correct = _correct(rows, pred_path, accuracy_mode)
    # The table is computed from the predictions; the metrics file must agree, else it is stale.
    stated = m.get("correct") if accuracy_mode is None else round(
        (m.get("accuracy_by_mode") or {}).get(accuracy_mode, -1) * len(rows))
    if m.get("n") != len(rows) or stated != sum(correct):
        raise InputError(
            f"{metrics_path}: says n={m.get('n')}, correct={stated} but {pred_path} has "
            f"{len(rows)} rows, {sum(correct)} correct. One of the two is stale: rerun the evaluate rule "
            "for it (delete both files)."
        )
    grader = m.get("grader", "unknown") if accuracy_mode is None else (m.get("graders") or {}).get(accuracy_mode)
    return Evaluation(seed=m["seed"], owner=m["owner"], method=m["method"], testset=m["testset"],
                      ids=tuple(r["id"] for r in rows), correct=correct, grader=str(grader or "unknown"),
                      predictions=str(pred_path), metrics=str(metrics_path))


def load_evaluations(metrics_paths: Sequence[str | Path], seeds: Sequence[int],
                     accuracy_mode: str | None = None) -> list[Evaluation]:
    """Every metrics file (sorted by path), each cell once, each seed one of ``seeds``."""
    evals = [load_evaluation(p, accuracy_mode) for p in sorted(map(str, metrics_paths))]
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
