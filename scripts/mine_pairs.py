"""Confidence from M_plus's n samples, and preference pairs by METHOD.md's rules."""

import logging

from w2s import pairs, workflow
from w2s.io import read_jsonl, write_json, write_jsonl

workflow.start(snakemake)
p = snakemake.params
questions = read_jsonl(snakemake.input.questions, {"id": str, "question": str})
weak = read_jsonl(snakemake.input.weak, {"id": str, "response": str})
samples = read_jsonl(snakemake.input.samples, {"id": str, "responses": list[str]})
sources = {k: str(snakemake.input[k]) for k in ("questions", "weak", "samples")}
mined, votes, summary = pairs.mine_pairs(questions, weak, samples, p.task, mode=p.mode, seed=p.seed, sources=sources,
                                         **p.rules)
write_jsonl(snakemake.output.pairs, mined)
write_jsonl(snakemake.output.votes, votes)
write_json(snakemake.output.summary, summary)
logging.getLogger("w2s").info("pairs: %s", summary)
