"""pass@k (k = 1..n) of M_plus's stage II samples per seed and weak model: CSV, Markdown, LaTeX, HTML, provenance."""

from w2s import report, workflow

workflow.start(snakemake)
p = snakemake.params
report.build_passk_table(
    p.layout, dict(snakemake.output.items()), exp=p.exp, grading_mode=p.grading_mode,
    config_hash=report.config_sha256(snakemake.config),
    settings={"stage2": snakemake.config["experiments"][p.exp]["stage2"], "grading": snakemake.config["grading"]},
    repo_dir=snakemake.scriptdir,
)
