"""Paper-style tables and figures from the metrics and predictions files.

Every number is recomputed from the predictions JSONL named in its metrics file, so a table cell
can be traced to the answers it came from.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from .io import atomic_path, read_json, read_jsonl
from .metrics import accuracy, bootstrap_ci, pgr

METHOD_LABELS = {
    "weak_floor": "weak floor",
    "full_weak": "full weak FT",
    "weak_icl": "weak-ICL",
    "dpo": "DPO (M_pro)",
    "orpo": "ORPO (M_pro)",
    "ceiling": "strong ceiling",
}


def method_label(method: str) -> str:
    if method.startswith("iter"):
        it, variant = method.split("-", 1)
        return f"{variant}-ft (iter {it[4:]})"
    return METHOD_LABELS.get(method, method)


def collect(metrics_paths: list[str], resamples: int = 1000, seed: int = 0, level: float = 0.95) -> pl.DataFrame:
    """One row per (weak, method, test set): accuracy recomputed from predictions, CI, counts."""
    rows = []
    for path in sorted(metrics_paths):
        m = read_json(path)
        predictions = Path(path).with_name(Path(path).name.replace(".metrics.json", ".jsonl"))
        correct = [bool(r["correct"]) for r in read_jsonl(predictions, {"correct": bool}, unique=None)]
        lo, hi = bootstrap_ci(correct, resamples=resamples, seed=seed, level=level)
        rows.append({"weak": m["owner"], "method": m["method"], "testset": m["testset"], "n": len(correct),
                     "accuracy": 100 * accuracy(correct), "ci_low": 100 * lo, "ci_high": 100 * hi,
                     "predictions": str(predictions)})
    return pl.DataFrame(rows)


def main_table(results: pl.DataFrame, weak_models: list[str], methods: list[str], testset: str) -> pl.DataFrame:
    """Rows: methods in paper order (ceiling last); columns: weak models; cells with CI and PGR."""
    df = results.filter(pl.col("testset") == testset)
    ceiling = df.filter(pl.col("method") == "ceiling")["accuracy"]
    ceiling_acc = ceiling[0] if len(ceiling) else float("nan")
    out = []
    for method in [*methods, "ceiling"]:
        row = {"method": method_label(method), "key": method}
        for weak in weak_models:
            owner = "ceiling" if method == "ceiling" else weak
            cell = df.filter((pl.col("method") == method) & (pl.col("weak") == owner))
            floor = df.filter((pl.col("method") == "weak_floor") & (pl.col("weak") == weak))["accuracy"]
            if len(cell):
                acc = cell["accuracy"][0]
                row[weak] = acc
                row[f"{weak} CI"] = f"[{cell['ci_low'][0]:.1f}, {cell['ci_high'][0]:.1f}]"
                row[f"{weak} PGR"] = pgr(acc, floor[0], ceiling_acc) if len(floor) else None
            else:
                row[weak], row[f"{weak} CI"], row[f"{weak} PGR"] = None, None, None
        out.append(row)
    return pl.DataFrame(out)


def to_markdown(df: pl.DataFrame, weak_models: list[str], title: str) -> str:
    header = ["method", *weak_models]
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in df.iter_rows(named=True):
        cells = [row["method"]]
        for weak in weak_models:
            acc = row[weak]
            if acc is None:
                cells.append("n/a")
                continue
            pgr_value = row[f"{weak} PGR"]
            pgr_text = "" if pgr_value is None or pgr_value != pgr_value else f", PGR {pgr_value:.2f}"
            cells.append(f"{acc:.2f} {row[f'{weak} CI']}{pgr_text}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_tables(results: pl.DataFrame, weak_models: list[str], methods: list[str], test_sets: list[str],
                 csv_path: str, md_path: str, exp: str) -> None:
    frames, md = [], [f"# {exp}: accuracy (%) with 95% bootstrap CI and PGR\n"]
    for testset in test_sets:
        table = main_table(results, weak_models, methods, testset)
        frames.append(table.with_columns(pl.lit(testset).alias("testset")))
        md.append(to_markdown(table, weak_models, f"test set: {testset}"))
    with atomic_path(csv_path) as tmp:
        pl.concat(frames, how="diagonal").write_csv(tmp, float_precision=4)
    with atomic_path(md_path) as tmp:
        tmp.write_text("\n".join(md), encoding="utf-8")


def accuracy_figure(results: pl.DataFrame, methods: list[str], path: str, title: str) -> None:
    """Accuracy by stage for each weak model, with CI bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    order = [method_label(m) for m in [*methods, "ceiling"]]
    df = results.with_columns(pl.col("method").map_elements(method_label, return_dtype=pl.String).alias("stage"))
    pdf = df.to_pandas()
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(order)), 4))
    sns.barplot(data=pdf, x="stage", y="accuracy", hue="weak", order=order, ax=ax, errorbar=None)
    # CI bars from the bootstrap, drawn over the bars seaborn placed.
    for container, (_, group) in zip(ax.containers, pdf.groupby("weak", sort=False)):
        by_stage = {r.stage: r for r in group.itertuples()}
        for bar, stage in zip(container, order):
            r = by_stage.get(stage)
            if r is not None:
                x = bar.get_x() + bar.get_width() / 2
                ax.errorbar(x, r.accuracy, yerr=[[r.accuracy - r.ci_low], [r.ci_high - r.accuracy]], color="black",
                            capsize=2, lw=0.8)
    ax.set_xlabel("")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=45)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix[1:], dpi=120)
    plt.close(fig)


def dump(obj) -> str:
    return json.dumps(obj, sort_keys=True)
