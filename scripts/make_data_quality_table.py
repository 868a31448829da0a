"""How right each training set is against the held-back train_2 gold (D_weak, D_icl, filtered sets per
iteration, stage II votes and pairs): CSV, Markdown, LaTeX, HTML, a size vs accuracy figure, provenance."""

from w2s import tables, workflow

workflow.start(snakemake)
p = snakemake.params
tables.build_data_quality(
    snakemake.input.gold[0], p.layout[p.seeds[0]], dict(snakemake.output.items()), exp=p.exp, task=p.task, tau=p.tau,
    flip_threshold=p.flip_threshold, grading_mode=p.grading_mode, config_hash=tables.config_sha256(snakemake.config),
    settings={"experiment_config": snakemake.config["experiments"][p.exp], "grading": snakemake.config["grading"]},
    repo_dir=snakemake.scriptdir,
)
