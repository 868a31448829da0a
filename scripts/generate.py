"""Answers of one model to a question file: greedy (one response) or n samples per question."""

from w2s import generation, workflow
from w2s.io import read_jsonl, write_jsonl
from w2s.prompts import build_requests

job = workflow.start(snakemake, uses_torch=True)
p = snakemake.params
questions = read_jsonl(snakemake.input.questions, {"id": str, "question": str})
demos = read_jsonl(snakemake.input.demos[0]) if snakemake.input.get("demos") else None
sampling = generation.SamplingConfig(**p.sampling)
engine = workflow.job_engine(p.engine, p.gpus)
raw = f"{p.work}/generations.jsonl"
generation.generate_file(build_requests(questions, demos), raw, p.model, sampling, engine, work_dir=p.work,
                         threads=job.threads, metrics_path=f"{p.work}/metrics.json")
rows = read_jsonl(raw)
if sampling.n == 1:
    write_jsonl(snakemake.output[0], ({"id": r["id"], "response": r["responses"][0]} for r in rows))
else:
    write_jsonl(snakemake.output[0], ({"id": r["id"], "responses": r["responses"], "seed": r.get("seed")} for r in rows))
