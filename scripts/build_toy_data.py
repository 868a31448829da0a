"""Synthetic GSM8K-style splits of the toy world (raw GSM8K format)."""

from pathlib import Path

from w2s import toy, workflow

workflow.start(snakemake)
toy.build_toy_data(str(Path(snakemake.output[0]).parent), snakemake.params.toy, snakemake.params.seed)
