"""Greedy answers of one model on one test set, graded: predictions JSONL + metrics JSON."""

import logging

from w2s import evaluation, workflow

job = workflow.start(snakemake, uses_torch=True)
p = snakemake.params
metrics = evaluation.evaluate(
    test_path=snakemake.input.test,
    demos_path=snakemake.input.demos[0] if snakemake.input.demos else None,
    model=p.model, task=p.task, engine=dict(p.engine), sampling=dict(p.sampling), gpus=p.gpus, work_dir=p.work,
    threads=job.threads, workers=p.workers, predictions_path=snakemake.output.predictions,
    metrics_path=snakemake.output.metrics,
    info={"exp": snakemake.wildcards.exp, "seed": int(snakemake.wildcards.seed), "owner": snakemake.wildcards.owner,
          "method": snakemake.wildcards.method, "testset": snakemake.wildcards.testset},
    modes=tuple(p.accuracy_modes),
)
logging.getLogger("w2s").info("accuracy %.4f on %d", metrics["accuracy"], metrics["n"])
