"""A small byte-level BPE tokenizer trained on the toy world's text."""

from pathlib import Path

from w2s import toy, workflow

workflow.start(snakemake)
data_dir = str(Path(snakemake.input[0]).parent)
toy.train_tokenizer(snakemake.output[0], data_dir, snakemake.params.toy, snakemake.params.seed)
