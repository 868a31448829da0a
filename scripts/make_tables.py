"""The experiment's main table: accuracy (one seed: with a seeded bootstrap CI; several: mean and spread),
PGR and the stage gains with paired intervals, as CSV (wide and long), Markdown, LaTeX and HTML; the
accuracy-by-stage figure (PNG, PDF); the provenance JSON."""

from w2s import report, workflow

workflow.start(snakemake)
p = snakemake.params
report.build_main_table(
    list(snakemake.input.metrics), dict(snakemake.output.items()), exp=p.exp, weak_models=list(p.weak),
    methods=list(p.methods), roles=dict(p.roles), seeds=list(p.seeds), grading_mode=p.grading_mode,
    test_sets=list(p.test_sets), accuracy_modes=list(p.accuracy_modes), accuracy_mode=p.accuracy_mode,
    resamples=p.report["bootstrap_resamples"], level=p.report["ci_level"],
    # The config the table was made under: read in the job, not a param, so that an unrelated config
    # edit does not rerun the table (its inputs would be unchanged).
    config_hash=report.config_sha256(snakemake.config),
    settings={"experiment_config": snakemake.config["experiments"][p.exp], "grading": snakemake.config["grading"]},
    repo_dir=snakemake.scriptdir,
)
