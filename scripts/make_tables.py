"""The experiment's main table: accuracy with a seeded bootstrap CI and PGR, as CSV (wide and long),
Markdown, LaTeX and HTML; the accuracy-by-stage figure (PNG, PDF); the provenance JSON."""

from w2s import tables, workflow

workflow.start(snakemake)
p = snakemake.params
tables.build_main_table(
    list(snakemake.input.metrics), dict(snakemake.output.items()), exp=p.exp, weak_models=list(p.weak),
    methods=[m["key"] for m in p.methods], test_sets=list(p.test_sets), resamples=p.report["bootstrap_resamples"],
    level=p.report["ci_level"], seed=p.seeds[0], last_iter=p.iterations,
    # The config the table was made under: read in the job, not a param, so that an unrelated config
    # edit does not rerun the table (its inputs would be unchanged).
    config_hash=tables.config_sha256(snakemake.config),
    settings={"experiment_config": snakemake.config["experiments"][p.exp], "grading": snakemake.config["grading"]},
    repo_dir=snakemake.scriptdir,
)
