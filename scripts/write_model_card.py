"""The Hugging Face model card (README.md) of one trained model folder, from its training record
and its metrics files."""

import logging

from w2s import workflow
from w2s.modelcard import write_model_card
from w2s.models import model_dir_of_record

job = workflow.start(snakemake)
card = write_model_card(model_dir_of_record(snakemake.input.record), list(snakemake.input.metrics),
                        dict(snakemake.params.spec), card_path=snakemake.output[0])
logging.getLogger("w2s").info("model card written: %s", card)
