"""A tiny Llama, optionally pretrained on synthetic text that leaves out train_2 and test."""

import logging
from pathlib import Path

from w2s import toy, workflow

job = workflow.start(snakemake, uses_torch=True)
data_dir = str(Path(snakemake.input.data[0]).parent)
metrics = toy.build_model(snakemake.output[0], snakemake.input.tokenizer[0], data_dir, snakemake.params.arch,
                          snakemake.params.seed, threads=job.threads)
logging.getLogger("w2s").info("pretraining: %s", metrics)
