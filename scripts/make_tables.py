"""The experiment's main table (CSV, Markdown) and accuracy figure."""

from w2s import tables, workflow

workflow.start(snakemake)
p = snakemake.params
results = tables.collect(list(snakemake.input.metrics), resamples=p.report["bootstrap_resamples"], seed=p.seed,
                         level=p.report["ci_level"])
tables.write_tables(results, p.weak, p.methods, p.test_sets, snakemake.output.csv, snakemake.output.md, p.exp)
tables.accuracy_figure(results, p.methods, snakemake.output.figure, f"{p.exp}: accuracy by stage")
