"""Histogram of M_plus's stage II vote confidence per weak model, stacked by whether the majority is right."""

from w2s import tables, workflow

workflow.start(snakemake)
p = snakemake.params
tables.build_confidence_figure(
    snakemake.input.gold[0], dict(zip(p.weak, snakemake.input.votes)), dict(snakemake.output.items()), exp=p.exp,
    task=p.task, n_samples=p.n, tau=p.tau, flip_threshold=p.flip_threshold,
)
