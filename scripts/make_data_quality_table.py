"""How right each training set is against the held-back train_2 gold (D_weak, D_icl, filtered sets per
iteration, stage II votes by recorded decision and pairs), per seed: CSV, Markdown, LaTeX, HTML, a size
vs accuracy figure, provenance."""

from w2s import report, workflow

workflow.start(snakemake)
p = snakemake.params
report.build_data_quality(
    snakemake.input.gold, p.layout, dict(snakemake.output.items()), exp=p.exp, task=p.task,
    grading_mode=p.grading_mode, config_hash=report.config_sha256(snakemake.config),
    settings={"experiment_config": snakemake.config["experiments"][p.exp], "grading": snakemake.config["grading"]},
    repo_dir=snakemake.scriptdir,
)
