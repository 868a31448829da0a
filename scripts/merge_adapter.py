"""Merged full weights (with tokenizer and model card) of one LoRA adapter folder, for serving."""

import logging

from w2s import workflow
from w2s.merge import merge_adapter

job = workflow.start(snakemake, uses_torch=True)
out = merge_adapter(snakemake.params.model, snakemake.output[0], list(snakemake.input.metrics),
                    dict(snakemake.params.spec))
logging.getLogger("w2s").info("merged weights written: %s", out)
