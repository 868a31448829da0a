"""Normalised JSONL splits of one dataset (train_1, or train_2 + its held-back gold + test)."""

import logging

from w2s import data, workflow
from w2s.io import write_jsonl

workflow.start(snakemake)
log = logging.getLogger("w2s")
rule, source, name = snakemake.params.rule, snakemake.params.source, snakemake.params.dataset
if "train_1" in source:
    rows = data.normalise_split(rule, source["train_1"], "train_1", name)
    write_jsonl(snakemake.output[0], rows)
    log.info("train_1: %d rows", len(rows))
else:
    train_2 = data.normalise_split(rule, source["train_2"], "train_2", name)
    test = data.normalise_split(rule, source["test"], "test", name)
    data.check_disjoint(train_2, test, f"dataset {name}")
    public, gold = data.split_questions(train_2)
    write_jsonl(snakemake.output.train_2, public)
    write_jsonl(snakemake.output.gold, gold)
    write_jsonl(snakemake.output.test, test)
    log.info("train_2: %d questions; test: %d", len(public), len(test))
