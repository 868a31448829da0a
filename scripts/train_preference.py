"""One stage II preference method (a TRL preference trainer and its options) on the mined pairs, from M_plus."""

import logging

from w2s import launch, workflow
from w2s.io import read_jsonl
from w2s.models import model_dir_of_record

job = workflow.start(snakemake, uses_torch=True)
p = snakemake.params
pairs = [{k: r[k] for k in ("prompt", "chosen", "rejected")}
         for r in read_jsonl(snakemake.input.pairs, {"prompt": str, "chosen": str, "rejected": str}, unique=None)]
metrics = launch.run_training(
    "train_preference",
    dict(trainer=p.train["trainer"], model=p.model, pairs=pairs, output_dir=model_dir_of_record(snakemake.output[0]),
         cfg=dict(p.train), work_dir=p.work, seed=p.seed, threads=job.threads),
    gpus=p.gpus, accelerate_config=p.train.get("accelerate_config"),
)
logging.getLogger("w2s").info("training done: %s", metrics)
