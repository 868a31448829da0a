"""SFT of a model on prompt/completion records (weak SFT on train_1 gold, or a strong variant)."""

import logging

from w2s import launch, workflow
from w2s.io import read_jsonl
from w2s.models import model_dir_of_record
from w2s.prompts import completion, prompt_for

job = workflow.start(snakemake, uses_torch=True)
p = snakemake.params
# hybrid sets hold two records (weak and ICL) per question: ids repeat there.
rows = read_jsonl(snakemake.input.train, unique=None)
if rows and "prompt" not in rows[0]:
    # A normalised gold split (train_1): the target is the gold solution ending with the answer key.
    rows = [{"prompt": prompt_for(r), "completion": completion(r["solution"])} for r in rows]
records = [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows]
metrics = launch.run_training(
    "train_sft",
    dict(model=p.model, records=records, output_dir=model_dir_of_record(snakemake.output[0]), cfg=dict(p.train), work_dir=p.work,
         seed=p.seed, threads=job.threads),
    gpus=p.gpus, accelerate_config=p.train.get("accelerate_config"),
)
logging.getLogger("w2s").info("training done: %s", metrics)
