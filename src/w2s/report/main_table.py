"""The main table as the reader sees it, and the one call of the make_tables rule.

Per test set two displays: the accuracy and PGR of every method (one column pair per weak model)
and the stage gains (M_plus over full weak fine-tuning; each stage II method over M_plus) with
paired bootstrap intervals. One seed: its accuracy with a bootstrap CI. Several seeds: the mean
with the sample sd and the range across seeds; the long CSV keeps every seed's intervals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from .evaluations import load_evaluations
from .figures import accuracy_figure
from .main import aggregate, main_results, main_wide
from .provenance import write_provenance
from .render import Display, check_outputs, num, write_csv, write_renderings
from .spec import TableSpec, table_spec

MAIN_OUTPUTS = ("csv", "long_csv", "md", "tex", "html", "figure_png", "figure_pdf", "provenance")


def _defined(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _cell(df: pl.DataFrame, method: str, weak: str) -> dict:
    return df.filter((pl.col("method") == method) & (pl.col("weak") == weak)).row(0, named=True)


def _seeds_note(r: Mapping, spec: TableSpec) -> str:
    return "" if r["seeds"] == len(spec.seeds) else f" ({r['seeds']} of {len(spec.seeds)} seeds)"


def _accuracy_cells(r: Mapping, spec: TableSpec) -> list[str]:
    """One weak model's accuracy and PGR cells of a method row."""
    if not _defined(r["accuracy"]):
        return ["–", "–"]
    single = len(spec.seeds) == 1
    if single:
        acc = f"{r['accuracy']:.2f} [{r['ci_low']:.1f}, {r['ci_high']:.1f}]"
    else:
        acc = f"{r['accuracy']:.2f} ± {num(r['sd'], '.2f')} ({r['min']:.1f}–{r['max']:.1f})" + _seeds_note(r, spec)
    if not _defined(r["pgr"]):
        pgr = "–"
    elif r["method"] in (spec.roles.floor, spec.roles.ceiling):
        pgr = f"{r['pgr']:.2f}"  # 0 and 1 by construction: no interval
    elif single:
        pgr = f"{r['pgr']:.2f} [{num(r['pgr_low'], '.2f')}, {num(r['pgr_high'], '.2f')}]"
    else:
        pgr = f"{r['pgr']:.2f} ± {num(r['pgr_sd'], '.2f')}"
    return [acc, pgr]


def _gain_cells(r: Mapping, spec: TableSpec) -> list[str]:
    if len(spec.seeds) == 1:
        if not _defined(r["gain"]):
            return ["–"]
        return [f"{r['gain']:+.2f} [{num(r['gain_low'], '+.1f')}, {num(r['gain_high'], '+.1f')}]"]
    if not _defined(r["gain"]):
        return ["–", "–"]
    return [f"{r['gain']:+.2f} ± {num(r['gain_sd'], '.2f')} ({r['gain_min']:+.1f} to {r['gain_max']:+.1f})",
            f"{r['gain_ci_above_zero']} of {r['seeds']}"]


def _ceiling_warnings(df: pl.DataFrame, spec: TableSpec, weak_models: Sequence[str]) -> list[str]:
    warnings = []
    for weak in weak_models:
        ends = {r["method"]: r["accuracy"] for r in df.filter(pl.col("weak") == weak).iter_rows(named=True)}
        floor, ceiling = ends.get(spec.roles.floor), ends.get(spec.roles.ceiling)
        if _defined(floor) and _defined(ceiling) and ceiling <= floor:
            warnings.append(f"for {weak} the strong ceiling ({ceiling:.2f}) is not above the weak floor "
                            f"({floor:.2f}): there is no gap to recover and its PGR is not meaningful.")
    return warnings


def _seed_text(spec: TableSpec) -> str:
    if len(spec.seeds) == 1:
        return f"seed {spec.seeds[0]}"
    return f"seeds {', '.join(map(str, spec.seeds))}"


ACCURACY_GRADERS = {"equivalence": "our grader's equivalence", "paper": "the paper code's own rules (grading mode paper)"}


def _grading_text(spec: TableSpec) -> str:
    grader = ACCURACY_GRADERS.get(spec.accuracy_mode, spec.accuracy_mode)
    return (f"Grading mode: {spec.grading_mode} (how the consistency filter and the stage II vote compare answers); "
            f"every accuracy here is graded against the gold answer by {grader} (accuracy mode {spec.accuracy_mode}).")


def _accuracy_display(df: pl.DataFrame, spec: TableSpec, weak_models: Sequence[str], level: float, resamples: int,
                      exp: str, testset: str) -> Display:
    ci = f"{round(100 * level)}% CI"
    rows, rules, last_group = [], set(), None
    for i, r in enumerate(spec.rows):
        if r.group != last_group:
            rules.add(i)
            last_group = r.group
        row = [r.label]
        for weak in weak_models:
            row += _accuracy_cells(_cell(df, r.key, weak), spec)
        rows.append(row)
    n_text = ", ".join(map(str, sorted({v for v in df["n"].to_list() if v is not None}))) or "?"
    if len(spec.seeds) == 1:
        columns = [f"acc. [{ci}]", "PGR"]
        numbers = (f"Accuracy (%) on {n_text} questions with a {ci} (percentile bootstrap over questions, "
                   f"{resamples} resamples seeded by the run's seed, {spec.seeds[0]}). PGR = (method - weak floor) / "
                   f"(strong ceiling - weak floor), with a paired bootstrap {ci}; ")
    else:
        columns = ["acc. mean ± sd (range)", "PGR mean ± sd"]
        numbers = (f"Accuracy (%) on {n_text} questions: mean ± sample sd across {_seed_text(spec)}, range min–max "
                   "in brackets (every seed's accuracy with its bootstrap CI is in the long CSV). PGR = (method - "
                   "weak floor) / (strong ceiling - weak floor), computed per seed, then mean ± sd; ")
    notes = (numbers + "0 and 1 by construction for the floor and the ceiling. The strong ceiling is fine-tuned on "
             "train_2 gold and is the same model in every column. " + _grading_text(spec)
             + "".join(" Warning: " + w for w in _ceiling_warnings(df, spec, weak_models)))
    return Display(title=f"{exp}: test set {testset} (n = {n_text})", columns=["method"] + columns * len(weak_models),
                   rows=rows, align="l" + "rr" * len(weak_models), groups=[(w, 2) for w in weak_models],
                   rules_before=rules, notes=notes, label=f"tab:w2s-{exp}-{testset}")


def _gain_label(spec: TableSpec, key: str) -> str:
    if key == spec.roles.m_plus:
        return f"M_plus - {spec.row(spec.roles.full_weak).label} (stage I)"
    return f"{spec.row(key).label} - M_plus"


def _gains_display(df: pl.DataFrame, spec: TableSpec, weak_models: Sequence[str], level: float, resamples: int,
                   exp: str, testset: str) -> Display:
    ci = f"{round(100 * level)}% CI"
    rows = []
    for r in spec.gain_rows:
        row = [_gain_label(spec, r.key)]
        for weak in weak_models:
            row += _gain_cells(_cell(df, r.key, weak), spec)
        rows.append(row)
    columns = [f"gain [{ci}]"] if len(spec.seeds) == 1 else ["gain mean ± sd (range)", f"seeds with {ci} > 0"]
    notes = (f"Gain: difference in accuracy (percentage points) between two models on the same test questions, with a "
             f"paired bootstrap {ci} (both models' answers resampled together, {resamples} resamples seeded by the "
             f"run's seed). Stage I: M_plus ({spec.row(spec.roles.m_plus).label}) over "
             f"{spec.row(spec.roles.full_weak).label}; stage II: each preference method over M_plus, the model it "
             "starts from.")
    if len(spec.seeds) > 1:
        notes += (f" Computed per seed, then mean ± sample sd and range across {_seed_text(spec)}; the last column "
                  f"counts the seeds whose paired {ci} lies above 0.")
    notes += " " + _grading_text(spec)
    return Display(title=f"{exp}: test set {testset}, stage gains (points)",
                   columns=["gain"] + columns * len(weak_models), rows=rows,
                   align="l" + "r" * len(columns) * len(weak_models), groups=[(w, len(columns)) for w in weak_models],
                   rules_before={0, 1}, notes=notes,
                   label=f"tab:w2s-{exp}-{testset}-gains")


def main_displays(agg: pl.DataFrame, spec: TableSpec, weak_models: Sequence[str], level: float = 0.95,
                  resamples: int = 1000, exp: str = "") -> list[Display]:
    """Per test set: the accuracy and PGR display, then the stage gains display."""
    displays = []
    for testset in agg["testset"].unique(maintain_order=True).to_list():
        df = agg.filter(pl.col("testset") == testset)
        displays.append(_accuracy_display(df, spec, weak_models, level, resamples, exp, testset))
        displays.append(_gains_display(df, spec, weak_models, level, resamples, exp, testset))
    return displays


def build_main_table(metrics_paths: Sequence[str], outputs: Mapping[str, str], *, exp: str, weak_models: Sequence[str],
                     methods: Sequence[Mapping], roles: Mapping[str, str], seeds: Sequence[int], grading_mode: str,
                     test_sets: Sequence[str], accuracy_modes: Sequence[str], accuracy_mode: str | None = None,
                     resamples: int = 1000, level: float = 0.95, config_hash: str | None = None,
                     settings: Mapping | None = None, repo_dir: str | Path | None = None) -> pl.DataFrame:
    """Main table (csv: wide, long_csv: one row per seed and cell, md, tex, html), the accuracy
    figure (figure_png, figure_pdf) and provenance; returns the long frame.

    ``accuracy_modes``: grading.accuracy, the graders every prediction was graded by (the first
    is each prediction's ``correct``); ``accuracy_mode``: the one this table shows (default: the
    first), read from the predictions' ``correct_by_mode`` when it is another."""
    check_outputs(outputs, MAIN_OUTPUTS)
    accuracy_mode = accuracy_mode or accuracy_modes[0]
    if accuracy_mode not in accuracy_modes:
        raise ValueError(f"accuracy mode {accuracy_mode!r} is not one of grading.accuracy {list(accuracy_modes)}")
    spec = table_spec(methods, roles, seeds, grading_mode, accuracy_mode)
    evals = load_evaluations(metrics_paths, spec.seeds, None if accuracy_mode == accuracy_modes[0] else accuracy_mode)
    results = main_results(evals, spec, weak_models, test_sets, resamples, level, exp)
    agg = aggregate(results, spec, weak_models)
    what = (f"with {round(100 * level)}% bootstrap CI" if len(spec.seeds) == 1
            else f"mean ± sd over {len(spec.seeds)} seeds")
    heading = (f"{exp}: accuracy (%) {what} and PGR ({_seed_text(spec)}; grading mode {spec.grading_mode}; "
               f"accuracy mode {spec.accuracy_mode})")
    write_renderings(outputs, main_wide(agg, weak_models), main_displays(agg, spec, weak_models, level, resamples, exp),
                     heading)
    write_csv(outputs["long_csv"], results)
    accuracy_figure(results, spec, outputs["figure_png"], outputs["figure_pdf"],
                    title=f"{exp} ({_seed_text(spec)}; grading mode {spec.grading_mode}; accuracy {spec.accuracy_mode}):")
    inputs = [e.metrics for e in evals] + [e.predictions for e in evals]
    write_provenance(outputs["provenance"], table="main", exp=exp, inputs=inputs,
                     outputs=[v for k, v in outputs.items() if k != "provenance"],
                     settings={"bootstrap_resamples": resamples, "ci_level": level,
                               "bootstrap": "percentile, questions resampled with replacement, one set of resamples "
                                            "per seed and test set shared by all cells (paired PGR and gain "
                                            "intervals), seeded by the run's seed",
                               "methods": [dict(m) for m in methods], "roles": dict(roles),
                               "accuracy_mode": accuracy_mode, **(settings or {})},
                     graders=[e.grader for e in evals], grading_mode=spec.grading_mode, seeds=spec.seeds,
                     config_hash=config_hash, repo_dir=repo_dir)
    return results
