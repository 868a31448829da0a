"""One normalised JSONL split of a dataset (train_1; train_2 + its held-back gold; or test, checked
to share no question with the normalised train_2), with a record of its source (<split>.source.json:
path, sha256 of the bytes read, hub commit)."""

import logging

from w2s import data, workflow
from w2s.io import read_jsonl, write_json, write_jsonl

workflow.start(snakemake)
log = logging.getLogger("w2s")
rule, source, name = snakemake.params.rule, snakemake.params.source, snakemake.params.dataset
(split, spec), = source.items()
record = {}
rows = data.normalise_split(rule, spec, split, name, record=record)
if split == "train_2":
    public, gold = data.split_questions(rows)
    write_jsonl(snakemake.output.train_2, public)
    write_jsonl(snakemake.output.gold, gold)
elif split == "test":
    data.check_disjoint(read_jsonl(snakemake.input.train_2), rows, f"dataset {name}")
    write_jsonl(snakemake.output.test, rows)
else:
    write_jsonl(snakemake.output[split], rows)
log.info("%s: %d rows", split, len(rows))
write_json(snakemake.output[f"{split}_source"], record)
log.info("%s source: %s", split, record)
