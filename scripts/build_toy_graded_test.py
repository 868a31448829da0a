"""The toy world's graded test set: its test split plus fresh problems no toy model has read."""

import logging
from pathlib import Path

from w2s import workflow
from w2s.toy import write_graded_test

workflow.start(snakemake)
p = snakemake.params
counts = write_graded_test(snakemake.output[0], Path(snakemake.input[0]).parent, p.fresh, p.data, p.models, p.seed)
logging.getLogger("w2s").info("graded test set: %s", counts)
