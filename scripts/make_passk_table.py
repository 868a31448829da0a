"""pass@k (k = 1..n) of M_plus's stage II samples per weak model: CSV, Markdown, LaTeX, HTML, provenance."""

from w2s import tables, workflow

workflow.start(snakemake)
p = snakemake.params
tables.build_passk_table(
    dict(zip(p.weak, snakemake.input.passk)), dict(snakemake.output.items()), exp=p.exp,
    config_hash=tables.config_sha256(snakemake.config),
    settings={"stage2": snakemake.config["experiments"][p.exp]["stage2"], "grading": snakemake.config["grading"]},
    repo_dir=snakemake.scriptdir,
)
