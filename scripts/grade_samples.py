"""pass@k (unbiased estimator) of M_plus's stage II samples against the held-back train_2 gold."""

from w2s import evaluation, workflow

workflow.start(snakemake)
p = snakemake.params
evaluation.grade_samples(snakemake.input.samples, snakemake.input.gold, p.task, snakemake.output[0], workers=p.workers)
