"""A prompt/completion SFT set: all weak answers (full weak fine-tuning) or the train_2 gold (ceiling)."""

from w2s import grading, workflow
from w2s.io import read_jsonl, write_jsonl
from w2s.prompts import completion, prompt_for

workflow.start(snakemake)
task = snakemake.params.task
questions = read_jsonl(snakemake.input.questions, {"id": str, "question": str})
if "gold" in snakemake.input.keys():
    gold = {g["id"]: g for g in read_jsonl(snakemake.input.gold, {"id": str, "solution": str, "answer": str})}
    records = [{"id": q["id"], "prompt": prompt_for(q), "completion": completion(gold[q["id"]]["solution"]),
                "answer": gold[q["id"]]["answer"], "source": "gold"} for q in questions]
else:
    answers = {a["id"]: a["response"] for a in read_jsonl(snakemake.input.answers, {"id": str, "response": str})}
    # The naive baseline: every weak answer, right or wrong, with or without a final answer.
    records = [{"id": q["id"], "prompt": prompt_for(q), "completion": completion(answers[q["id"]]),
                "answer": grading.extract_answer(answers[q["id"]], task), "source": "weak"} for q in questions]
write_jsonl(snakemake.output[0], records)
