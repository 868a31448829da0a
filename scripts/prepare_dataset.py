"""Normalised JSONL splits of one dataset (train_1, or train_2 + its held-back gold + test), each
with a record of its source (<split>.source.json: path, sha256 of the bytes read, hub commit)."""

import logging

from w2s import data, workflow
from w2s.io import write_json, write_jsonl

workflow.start(snakemake)
log = logging.getLogger("w2s")
rule, source, name = snakemake.params.rule, snakemake.params.source, snakemake.params.dataset
records = {split: {} for split in source}
if "train_1" in source:
    rows = data.normalise_split(rule, source["train_1"], "train_1", name, record=records["train_1"])
    write_jsonl(snakemake.output.train_1, rows)
    log.info("train_1: %d rows", len(rows))
else:
    train_2 = data.normalise_split(rule, source["train_2"], "train_2", name, record=records["train_2"])
    test = data.normalise_split(rule, source["test"], "test", name, record=records["test"])
    data.check_disjoint(train_2, test, f"dataset {name}")
    public, gold = data.split_questions(train_2)
    write_jsonl(snakemake.output.train_2, public)
    write_jsonl(snakemake.output.gold, gold)
    write_jsonl(snakemake.output.test, test)
    log.info("train_2: %d questions; test: %d", len(public), len(test))
for split, record in records.items():
    write_json(snakemake.output[f"{split}_source"], record)
    log.info("%s source: %s", split, record)
