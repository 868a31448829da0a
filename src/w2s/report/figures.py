"""The figures: accuracy by stage, set size vs label accuracy, and the stage II vote confidence.

PNG and PDF are written without creation dates, so that reruns give identical bytes. Several
seeds: the accuracy figure shows every seed's point and the mean; the other two pool the seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from ..io import atomic_path
from ..metrics import spread
from .spec import STAGES, TableSpec


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


def _seed_values(df: pl.DataFrame, method: str) -> list[float]:
    return [v for v in df.filter(pl.col("method") == method).sort("seed")["accuracy"].to_list() if v is not None]


def _reference_line(ax, values: Sequence[float], label: str, color, style: str) -> None:
    """The mean over seeds as a horizontal line; the range across seeds as a light band."""
    if not values:
        return
    s = spread(values)
    ax.axhline(s["mean"], color=color, ls=style, lw=1.2, label=label + (" (mean, range)" if s["count"] > 1 else ""))
    ax.annotate(f"{s['mean']:.1f}", xy=(1, s["mean"]), xycoords=("axes fraction", "data"), xytext=(3, 0),
                textcoords="offset points", va="center", fontsize="small", color=color)
    if s["count"] > 1:
        ax.axhspan(s["min"], s["max"], color=color, alpha=0.12, lw=0)


def _accuracy_panel(ax, df: pl.DataFrame, spec: TableSpec, colors: dict, n_seeds: int) -> None:
    """One (test set, weak model): a bar per method at the mean over seeds, coloured by stage, every
    seed's accuracy as a point (one seed: its bootstrap CI as an error bar); floor and ceiling as lines."""
    rows = [r for r in spec.rows if r.key not in (spec.roles.floor, spec.roles.ceiling)]
    offsets = np.linspace(-0.22, 0.22, n_seeds) if n_seeds > 1 else np.zeros(1)
    point_label = "seed" if n_seeds == 1 else "each seed"
    for i, r in enumerate(rows):
        values = _seed_values(df, r.key)
        if not values:
            continue
        mean = spread(values)["mean"]
        ax.bar(i, mean, width=0.7, color=colors[r.stage], label=r.stage)
        if n_seeds == 1:
            cell = df.filter(pl.col("method") == r.key).row(0, named=True)
            ax.errorbar([i], [mean], yerr=[[mean - cell["ci_low"]], [cell["ci_high"] - mean]], fmt="none",
                        ecolor="black", elinewidth=0.8, capsize=2)
        ax.scatter(i + offsets[: len(values)], values, s=10, color="black", zorder=3, label=point_label)
    _reference_line(ax, _seed_values(df, spec.roles.floor), spec.row(spec.roles.floor).label, "0.35", "--")
    _reference_line(ax, _seed_values(df, spec.roles.ceiling), spec.row(spec.roles.ceiling).label, colors["ceiling"],
                    "-.")
    ax.set_xticks(range(len(rows)), [r.label for r in rows], rotation=40, ha="right")
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("accuracy (%)")


def accuracy_figure(results: pl.DataFrame, spec: TableSpec, png: str, pdf: str | None = None, title: str = "") -> None:
    """Accuracy by stage: one panel per (test set, weak model), bars coloured by stage."""
    plt, sns = _plt()
    test_sets = results["testset"].unique(maintain_order=True).to_list()
    weak_models = results["weak"].unique(maintain_order=True).to_list()
    colors = dict(zip(STAGES, sns.color_palette("colorblind", len(STAGES))))
    width = max(5.0, 0.5 * len(spec.rows) + 1.5)
    fig, axes = plt.subplots(len(test_sets), len(weak_models), figsize=(width * len(weak_models) + 2.0,
                                                                         3.8 * len(test_sets)), squeeze=False)
    for row, testset in enumerate(test_sets):
        for col, weak in enumerate(weak_models):
            df = results.filter((pl.col("testset") == testset) & (pl.col("weak") == weak))
            _accuracy_panel(axes[row, col], df, spec, colors, len(spec.seeds))
            axes[row, col].set_title(f"{title} test set {testset}, weak model {weak}".strip())
    handles, labels = axes[0, -1].get_legend_handles_labels()
    unique = dict(zip(labels, handles))  # one entry per stage, line and point kind: stages first
    unique = {k: unique[k] for k in sorted(unique, key=lambda k: (STAGES.index(k) if k in STAGES else len(STAGES)))}
    # Outside the axes: inside, the legend hid the first bars whenever the weak floor was high.
    axes[0, -1].legend(unique.values(), unique.keys(), fontsize="small", loc="upper left", bbox_to_anchor=(1.06, 1))
    fig.tight_layout()
    save_figure(fig, png, pdf)
    plt.close(fig)


DQ_KINDS = {"weak-answers": "weak side, all", "icl-answers": "ICL side, all", "weak": "kept, weak labels",
            "icl": "kept, ICL labels", "hybrid": "kept, hybrid set"}


def _arrows(ax, part: pl.DataFrame, colors: dict) -> None:
    """Arrows from each side's raw answers to the labels the filter kept from them (per seed)."""
    points = {(r["seed"], r["iteration"], r["set"].split("-", 1)[1]): (r["size"], r["right_pct"])
              for r in part.iter_rows(named=True) if r["right_pct"] is not None}
    for (seed, it, kind), end in sorted(points.items()):
        start = points.get((seed, it, f"{kind}-answers"))
        if kind in ("weak", "icl") and start:
            ax.annotate("", xy=end, xytext=start, zorder=0,
                        arrowprops={"arrowstyle": "->", "color": colors[f"iter {it}"], "lw": 0.8, "alpha": 0.6})


def data_quality_figure(df: pl.DataFrame, png: str, pdf: str | None = None, title: str = "") -> None:
    """Set size vs label accuracy, per iteration (colour) and set kind (marker); a panel per weak
    model, a point per seed."""
    plt, sns = _plt()
    stage1 = df.filter(pl.col("stage") == "stage I")
    weak_models = stage1["weak"].unique(maintain_order=True).to_list() or ["(none)"]
    fig, axes = plt.subplots(1, len(weak_models), figsize=(4.8 * len(weak_models) + 1.6, 3.8), squeeze=False,
                             sharey=True)
    iterations = sorted(set(stage1["iteration"].drop_nulls().to_list()))
    hue_order = [f"iter {i}" for i in iterations]
    colors = dict(zip(hue_order, sns.color_palette("viridis", len(hue_order))))
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
        _arrows(ax, part, colors)
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


def confidence_figure(votes: pl.DataFrame, categories: Sequence[str], n: int, tau: float, flip_threshold: float,
                      png: str, pdf: str | None = None, title: str = "") -> None:
    """Histogram of M_plus's vote confidence (one bar per possible value c/n), stacked by ``category``
    in the given order (whether the majority is right, or stage II's decision); several seeds: the
    mean count per seed. Dashed: tau, dotted: the flip threshold."""
    plt, sns = _plt()
    weak_models = votes["weak"].unique(maintain_order=True).to_list() or ["(none)"]
    n_seeds = max(1, votes["seed"].n_unique())
    fig, axes = plt.subplots(1, len(weak_models), figsize=(4.6 * len(weak_models) + 1.6, 3.4), squeeze=False,
                             sharey=True)
    edges = [(k - 0.5) / n for k in range(0, n + 2)]
    colors = dict(zip(categories, sns.color_palette("colorblind", len(categories))))
    for ax, weak in zip(axes[0], weak_models):
        part = votes.filter(pl.col("weak") == weak)
        bottom = np.zeros(len(edges) - 1)
        centers = [k / n for k in range(0, n + 1)]
        for category in categories:
            values = part.filter(pl.col("category") == category)["confidence"].to_numpy()
            counts, _ = np.histogram(values, bins=edges)
            counts = counts / n_seeds if n_seeds > 1 else counts
            ax.bar(centers, counts, width=0.9 / n, bottom=bottom, color=colors[category], label=category)
            bottom += counts
        ax.axvline(tau, color="black", ls="--", lw=1, label=f"tau = {tau:g}")
        ax.axvline(flip_threshold, color="black", ls=":", lw=1, label=f"flip threshold = {flip_threshold:g}")
        ax.set_xlim(-0.5 / n, 1 + 0.5 / n)
        ax.set_xlabel("confidence (share of the most common answer)")
        ax.set_ylabel("questions" if n_seeds == 1 else f"questions per seed (mean of {n_seeds})")
        ax.set_title(f"weak model {weak}")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, png, pdf)
    plt.close(fig)
