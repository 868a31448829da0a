"""pass@k of M_plus's stage II samples (unbiased estimator, k = 1..n), per seed and weak model,
from the ``passk.json`` files the grade_samples rule writes."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from ..io import InputError, read_json
from ..metrics import spread
from .provenance import write_provenance
from .render import Display, check_outputs, num, write_renderings

log = logging.getLogger(__name__)

PASSK_SCHEMA = {"exp": pl.String, "seed": pl.Int64, "weak": pl.String, "k": pl.Int64, "pass_at_k": pl.Float64,
                "questions": pl.Int64, "samples_per_question": pl.Int64, "sample_accuracy": pl.Float64,
                "grader": pl.String}


def _passk_rows(path: str, seed: int, weak: str, exp: str) -> list[dict]:
    p = read_json(path)
    try:
        n, questions, sample_acc, by_k = int(p["n"]), int(p["questions"]), float(p["sample_accuracy"]), p["pass_at_k"]
        ks = sorted(int(k) for k in by_k)
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{path}: expected n, questions, sample_accuracy and pass_at_k {{k: value}} ({e}); "
                         "rerun the grade_samples rule.") from None
    if ks != list(range(1, n + 1)):
        raise InputError(f"{path}: pass_at_k must hold k = 1..{n}, found {ks}.")
    if abs(float(by_k["1"]) - sample_acc) > 1e-9:
        # Equal when every question has n samples; grade_samples keeps n = the smallest count.
        log.warning("%s: pass@1 %.6f differs from the mean sample accuracy %.6f (uneven sample counts?)",
                    path, float(by_k["1"]), sample_acc)
    return [{"exp": exp, "seed": seed, "weak": weak, "k": k, "pass_at_k": 100 * float(by_k[str(k)]),
             "questions": questions, "samples_per_question": n, "sample_accuracy": 100 * sample_acc,
             "grader": str(p.get("grader", "unknown"))} for k in ks]


def passk_results(passk_layout: Mapping[str, Mapping[str, str]], exp: str = "") -> pl.DataFrame:
    """Tidy pass@k: one row per (seed, weak model, k), in %, with the mean per-sample accuracy.
    ``passk_layout[seed][weak]`` is the passk.json of that run."""
    rows = []
    for seed, by_weak in passk_layout.items():
        for weak, path in by_weak.items():
            rows += _passk_rows(str(path), int(seed), weak, exp)
    return pl.DataFrame(rows, schema=PASSK_SCHEMA)


def passk_wide(results: pl.DataFrame) -> pl.DataFrame:
    """A row per (seed, weak model), a column per k (pass@k in %)."""
    if results.height == 0:
        return results
    index = ["exp", "seed", "weak", "questions", "samples_per_question", "sample_accuracy", "grader"]
    wide = results.pivot(on="k", index=index, values="pass_at_k", sort_columns=True)
    ks = sorted(set(results["k"].to_list()))
    return wide.rename({str(k): f"pass@{k}" for k in ks}).select(*index[:-1], *[f"pass@{k}" for k in ks], "grader")


def _mean_sd(values: Sequence[float]) -> str:
    s = spread(values)
    return num(s["mean"], ".2f") + (f" ± {num(s['sd'], '.2f')}" if s["count"] > 1 else "")


def passk_displays(results: pl.DataFrame, exp: str = "", grading_mode: str = "") -> list[Display]:
    """One row per weak model: one seed's numbers, or mean ± sd over the seeds."""
    ks = sorted(set(results["k"].to_list()))
    seeds = sorted(set(results["seed"].to_list()))
    rows = []
    for weak in results["weak"].unique(maintain_order=True).to_list():
        df = results.filter(pl.col("weak") == weak).sort("seed", "k")
        questions = ", ".join(map(str, sorted(set(df["questions"].to_list()))))
        sample_acc = df.filter(pl.col("k") == ks[0])["sample_accuracy"].to_list()
        rows.append([weak, questions, _mean_sd(sample_acc),
                     *[_mean_sd(df.filter(pl.col("k") == k)["pass_at_k"].to_list()) for k in ks]])
    seed_text = (f"Numbers of seed {seeds[0]}." if len(seeds) == 1 else
                 f"Mean ± sample sd over {len(seeds)} seeds ({', '.join(map(str, seeds))}); every seed's row is in "
                 "the CSV.")
    notes = ("pass@k (%) of M_plus (the last iteration's hybrid-ft model) on the train_2 questions, from n samples "
             "per question, unbiased estimator 1 - C(n-c, k) / C(n, k) averaged over questions; graded against "
             f"the held-back train_2 gold. pass@1 equals the mean per-sample accuracy. {seed_text} Grading mode: "
             f"{grading_mode} (how stage I's filter compared the answers M_plus was trained on).")
    return [Display(title=f"{exp}: pass@k of M_plus's stage II samples", columns=["weak model", "questions",
                    "sample acc.", *[f"pass@{k}" for k in ks]], rows=rows, align="l" + "r" * (2 + len(ks)),
                    notes=notes, label=f"tab:w2s-{exp}-passk")]


def build_passk_table(passk_layout: Mapping[str, Mapping[str, str]], outputs: Mapping[str, str], *, exp: str,
                      grading_mode: str, config_hash: str | None = None, settings: Mapping | None = None,
                      repo_dir: str | Path | None = None) -> pl.DataFrame:
    """pass@k table (csv: one row per seed and weak model, md, tex, html) and provenance."""
    check_outputs(outputs, ("csv", "md", "tex", "html", "provenance"))
    results = passk_results(passk_layout, exp)
    seeds = sorted(int(s) for s in passk_layout)
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"mean over {len(seeds)} seeds"
    write_renderings(outputs, passk_wide(results), passk_displays(results, exp, grading_mode),
                     f"{exp}: pass@k of M_plus (stage II samples; {seed_text}; grading mode {grading_mode})")
    write_provenance(outputs["provenance"], table="passk", exp=exp,
                     inputs=[str(p) for by_weak in passk_layout.values() for p in by_weak.values()],
                     outputs=[v for k, v in outputs.items() if k != "provenance"], settings=settings or {},
                     graders=results["grader"].unique().to_list(), grading_mode=grading_mode, seeds=seeds,
                     config_hash=config_hash, repo_dir=repo_dir)
    return results
