"""Histogram of M_plus's stage II vote confidence per weak model, stacked by whether the majority is right
(without train_2 gold: by stage II's recorded decision)."""

from w2s import report, workflow

workflow.start(snakemake)
p = snakemake.params
report.build_confidence_figure(
    snakemake.input.gold, p.layout, dict(snakemake.output.items()), exp=p.exp, task=p.task, n_samples=p.n,
    tau=p.tau, flip_threshold=p.flip_threshold,
)
