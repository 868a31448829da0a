"""k weak answers drawn with a seed (or listed by id) as the fixed in-context demonstrations."""

from w2s import demos, grading, workflow
from w2s.io import read_jsonl, write_jsonl

workflow.start(snakemake)
p = snakemake.params
questions = {q["id"]: q for q in read_jsonl(snakemake.input.questions, {"id": str, "question": str})}
weak = read_jsonl(snakemake.input.weak, {"id": str, "response": str})
rows = [{**questions[r["id"]], "response": r["response"]} for r in weak]
has_answer = {r["id"]: bool(grading.extract_answer(r["response"], p.task)) for r in weak}
write_jsonl(snakemake.output[0], demos.sample_demonstrations(rows, p.demos["k"], p.demos["seed"], p.demos["ids"], has_answer))
