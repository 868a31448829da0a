"""Keep train_2 questions whose weak and in-context answers agree; write weak/icl/hybrid sets."""

import logging

from w2s import consistency, workflow
from w2s.io import read_jsonl, write_json, write_jsonl

workflow.start(snakemake)
p = snakemake.params
questions = read_jsonl(snakemake.input.questions, {"id": str, "question": str})
weak = read_jsonl(snakemake.input.weak, {"id": str, "response": str})
icl = read_jsonl(snakemake.input.icl, {"id": str, "response": str})
sources = {k: str(snakemake.input[k]) for k in ("questions", "weak", "icl")}
sets, summary = consistency.consistency_filter(questions, weak, icl, p.task, mode=p.mode, sources=sources, **p.padding)
for variant in consistency.VARIANTS:
    write_jsonl(snakemake.output[variant], sets[variant])
write_json(snakemake.output.summary, summary)
logging.getLogger("w2s").info("consistency filter: %s", summary)
