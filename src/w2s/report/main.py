"""The main table's numbers: per seed, accuracy, PGR and the stage gains with bootstrap intervals;
across seeds, their mean and spread.

Per seed and test set, all cells share one set of bootstrap resamples of the questions, seeded
by the run's seed: each accuracy interval equals ``metrics.bootstrap_ci`` of that cell's answers,
and the PGR and gain intervals are paired (method, weak floor and ceiling, or method and its
reference, are resampled together). A resample where ceiling and floor tie has no PGR; if more
than 1 - level of them tie, the PGR interval is left empty. Across seeds: mean, sample sd and range
of each per-seed statistic (PGR is computed per seed, then averaged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..io import InputError
from ..metrics import bootstrap_indices, percentile_interval, pgr, spread
from .evaluations import Evaluation, aligned
from .spec import TableSpec

LONG_SCHEMA = {"exp": pl.String, "seed": pl.Int64, "testset": pl.String, "stage": pl.String, "group": pl.String,
               "method": pl.String, "label": pl.String, "weak": pl.String, "owner": pl.String, "n": pl.Int64,
               "correct": pl.Int64, "accuracy": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
               "pgr": pl.Float64, "pgr_low": pl.Float64, "pgr_high": pl.Float64, "gain_over": pl.String,
               "gain": pl.Float64, "gain_low": pl.Float64, "gain_high": pl.Float64, "grader": pl.String,
               "predictions": pl.String}


def _pct(x: float) -> float:
    return 100.0 * x if x == x else float("nan")


@dataclass
class _Resampled:
    """One (seed, test set): every cell's 0/1 vector in one question order and its resampled accuracy."""

    n: int
    vectors: dict[tuple[str, str], np.ndarray]
    boot: dict[tuple[str, str], np.ndarray]
    evals: dict[tuple[str, str], Evaluation]
    ceiling_owner: str


def _resample(present: list[Evaluation], spec: TableSpec, seed: int, resamples: int) -> _Resampled:
    ceilings = [e for e in present if e.method == spec.roles.ceiling]
    if len(ceilings) > 1:
        raise InputError(f"{ceilings[0].metrics} and {ceilings[1].metrics}: two strong ceilings for one seed and "
                         "test set; the ceiling is one model shared by every weak model.")
    # The question order of the resamples: the ceiling's file, else the first file by (owner, method).
    ref = ceilings[0] if ceilings else present[0]
    n = len(ref.ids)
    draws = np.asarray(bootstrap_indices(n, resamples, seed), dtype=np.int64)
    vectors = {(e.owner, e.method): aligned(e, ref.ids) for e in present}
    boot = {key: vec[draws].sum(axis=1) / n for key, vec in vectors.items()}
    return _Resampled(n=n, vectors=vectors, boot=boot, evals={(e.owner, e.method): e for e in present},
                      ceiling_owner=ceilings[0].owner if ceilings else spec.roles.ceiling)


def _pgr_interval(method: np.ndarray, floor: np.ndarray, ceiling: np.ndarray, level: float) -> tuple[float, float]:
    gap = ceiling - floor
    defined = gap != 0
    if defined.sum() < level * len(gap):
        return (float("nan"), float("nan"))
    values = (method[defined] - floor[defined]) / gap[defined] + 0.0  # no -0.0
    return percentile_interval(values.tolist(), level)


def _cell(cells: _Resampled, spec: TableSpec, weak: str, method: str, level: float) -> dict:
    """The per-seed statistics of one cell (accuracy, PGR, gain; each with its interval)."""
    owner = cells.ceiling_owner if method == spec.roles.ceiling else weak
    row = {"owner": owner}
    if (owner, method) not in cells.vectors:
        return row
    n, vec, boot = cells.n, cells.vectors[(owner, method)], cells.boot[(owner, method)]
    e = cells.evals[(owner, method)]
    lo, hi = percentile_interval(boot.tolist(), level)
    row.update(n=n, correct=int(vec.sum()), accuracy=_pct(int(vec.sum()) / n), ci_low=_pct(lo), ci_high=_pct(hi),
               grader=e.grader, predictions=e.predictions)
    floor_key, ceil_key = (weak, spec.roles.floor), (cells.ceiling_owner, spec.roles.ceiling)
    if floor_key in cells.vectors and ceil_key in cells.vectors:
        f_acc, c_acc = cells.vectors[floor_key].sum() / n, cells.vectors[ceil_key].sum() / n
        row["pgr"] = pgr(int(vec.sum()) / n, float(f_acc), float(c_acc))
        row["pgr_low"], row["pgr_high"] = _pgr_interval(boot, cells.boot[floor_key], cells.boot[ceil_key], level)
    reference = spec.gain_reference(method)
    if reference is not None and (weak, reference) in cells.vectors:
        ref_vec, ref_boot = cells.vectors[(weak, reference)], cells.boot[(weak, reference)]
        row["gain"] = _pct(int(vec.sum()) / n - int(ref_vec.sum()) / n) + 0.0
        g_lo, g_hi = percentile_interval((boot - ref_boot).tolist(), level)
        row["gain_low"], row["gain_high"] = _pct(g_lo) + 0.0, _pct(g_hi) + 0.0
    return row


def main_results(evals: Sequence[Evaluation], spec: TableSpec, weak_models: Sequence[str], test_sets: Sequence[str],
                 resamples: int = 1000, level: float = 0.95, exp: str = "") -> pl.DataFrame:
    """Tidy results: one row per (seed, test set, weak model, method), the ceiling repeated per weak
    model; bootstrap resamples seeded by each row's seed."""
    unknown = sorted({e.method for e in evals} - set(spec.keys))
    if unknown:
        where = next(e.metrics for e in evals if e.method == unknown[0])
        raise InputError(f"{where}: method {unknown[0]!r} is not a row of the table ({spec.keys}); the rule's "
                         "inputs and its methods param disagree.")
    rows = []
    for seed in spec.seeds:
        for testset in test_sets:
            present = sorted((e for e in evals if e.testset == testset and e.seed == seed),
                             key=lambda e: (e.owner, e.method))
            if not present:
                raise InputError(f"no predictions for test set '{testset}' with seed {seed}; run the evaluate rule "
                                 "for it.")
            cells = _resample(present, spec, seed, resamples)
            for weak in weak_models:
                for r in spec.rows:
                    row = dict.fromkeys(LONG_SCHEMA)
                    row.update(exp=exp, seed=seed, testset=testset, stage=r.stage, group=r.group, method=r.key,
                               label=r.label, weak=weak, gain_over=spec.gain_reference(r.key))
                    row.update(_cell(cells, spec, weak, r.key, level))
                    rows.append(row)
    return pl.DataFrame(rows, schema=LONG_SCHEMA)


AGG_SCHEMA = {"exp": pl.String, "testset": pl.String, "stage": pl.String, "group": pl.String, "method": pl.String,
              "label": pl.String, "weak": pl.String, "seeds": pl.Int64, "n": pl.Int64, "accuracy": pl.Float64,
              "sd": pl.Float64, "min": pl.Float64, "max": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
              "pgr": pl.Float64, "pgr_sd": pl.Float64, "pgr_low": pl.Float64, "pgr_high": pl.Float64,
              "gain_over": pl.String, "gain": pl.Float64, "gain_sd": pl.Float64, "gain_min": pl.Float64,
              "gain_max": pl.Float64, "gain_low": pl.Float64, "gain_high": pl.Float64,
              "gain_ci_above_zero": pl.Int64}


def _aggregate_cell(cell: pl.DataFrame, single: bool) -> dict:
    """Mean and spread of one cell's per-seed statistics; a single seed keeps its intervals."""
    acc, pgr_, gain = (spread(cell[c].to_list()) for c in ("accuracy", "pgr", "gain"))
    ns = sorted({v for v in cell["n"].to_list() if v is not None})
    row = {"seeds": acc["count"], "n": ns[0] if len(ns) == 1 else None, "accuracy": acc["mean"], "sd": acc["sd"],
           "min": acc["min"], "max": acc["max"], "pgr": pgr_["mean"], "pgr_sd": pgr_["sd"], "gain": gain["mean"],
           "gain_sd": gain["sd"], "gain_min": gain["min"], "gain_max": gain["max"],
           "gain_ci_above_zero": sum(1 for v in cell["gain_low"].to_list() if v is not None and v == v and v > 0)}
    if single:  # one seed: its bootstrap intervals; several: the spread across seeds replaces them
        first = cell.row(0, named=True)
        row.update({k: first[k] for k in ("ci_low", "ci_high", "pgr_low", "pgr_high", "gain_low", "gain_high")})
    if cell["gain_over"][0] is None:
        row["gain_ci_above_zero"] = None
    return row


def aggregate(results: pl.DataFrame, spec: TableSpec, weak_models: Sequence[str]) -> pl.DataFrame:
    """One row per (test set, method, weak model): the statistics across seeds (see AGG_SCHEMA)."""
    rows = []
    single = len(spec.seeds) == 1
    for testset in results["testset"].unique(maintain_order=True).to_list():
        part = results.filter(pl.col("testset") == testset)
        for r in spec.rows:
            for weak in weak_models:
                cell = part.filter((pl.col("method") == r.key) & (pl.col("weak") == weak)).sort("seed")
                row = dict.fromkeys(AGG_SCHEMA)
                row.update(exp=cell["exp"][0], testset=testset, stage=r.stage, group=r.group, method=r.key,
                           label=r.label, weak=weak, gain_over=cell["gain_over"][0])
                row.update(_aggregate_cell(cell, single))
                rows.append(row)
    return pl.DataFrame(rows, schema=AGG_SCHEMA)


# Per weak model in the wide CSV: the first seven as before seeds (for one seed the same numbers),
# then the spread across seeds and the gains.
WIDE_COLUMNS = {"": "accuracy", "ci_low": "ci_low", "ci_high": "ci_high", "pgr": "pgr", "pgr_low": "pgr_low",
                "pgr_high": "pgr_high", "n": "n", "sd": "sd", "min": "min", "max": "max", "pgr_sd": "pgr_sd",
                "gain": "gain", "gain_sd": "gain_sd", "gain_low": "gain_low", "gain_high": "gain_high",
                "seeds": "seeds"}


def main_wide(agg: pl.DataFrame, weak_models: Sequence[str]) -> pl.DataFrame:
    """The main table's shape as CSV: a row per (test set, method), per weak model the mean accuracy
    (column named after the weak model), its spread and intervals, PGR and the gain."""
    rows = []
    keys = agg.select("testset", "method", "label", "group", "gain_over").unique(maintain_order=True)
    for t in keys.iter_rows(named=True):
        row = {"testset": t["testset"], "key": t["method"], "method": t["label"], "group": t["group"]}
        cells = agg.filter((pl.col("testset") == t["testset"]) & (pl.col("method") == t["method"]))
        for weak in weak_models:
            r = cells.filter(pl.col("weak") == weak).row(0, named=True)
            for suffix, col in WIDE_COLUMNS.items():
                row[f"{weak} {suffix}".strip()] = r[col]
        row["gain_over"] = t["gain_over"]
        rows.append(row)
    schema = {"testset": pl.String, "key": pl.String, "method": pl.String, "group": pl.String}
    for weak in weak_models:
        for suffix, col in WIDE_COLUMNS.items():
            schema[f"{weak} {suffix}".strip()] = AGG_SCHEMA[col]
    schema["gain_over"] = pl.String
    return pl.DataFrame(rows, schema=schema)
