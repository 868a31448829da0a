"""Synthetic results trees laid out like the workflow's, for the report tests (1 or several seeds).

Every expected number in the tests is recomputed from the files a tree holds (or written out by
hand), never read back from the code under test.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from w2s.io import write_json, write_jsonl
from w2s.metrics import mean_pass_at_k

EXP, DATASET, WEAK = "toy", "toy", ["toy-weak", "toy-mid"]
STAGE2 = [("dpo", "DPO (stage II)"), ("orpo", "ORPO (stage II)")]
# Accuracy each synthetic method is drawn with: a stage-wise rise, as the method hopes for.
RATES = {"weak_floor": 0.3, "full_weak": 0.33, "weak_icl": 0.4, "iter1-weak": 0.45, "iter1-icl": 0.5,
         "iter1-hybrid": 0.52, "iter2-weak": 0.5, "iter2-icl": 0.55, "iter2-hybrid": 0.58, "dpo": 0.62,
         "orpo": 0.6, "ceiling": 0.8}
ROLES = {"floor": "weak_floor", "ceiling": "ceiling", "full_weak": "full_weak", "m_plus": "iter2-hybrid"}


def method_rows(stage2=STAGE2, iterations: int = 2) -> list[dict]:
    """The rows a rule passes (the contract of w2s.report.spec), in display order."""
    def row(key, label, stage, iteration=None):
        return {"key": key, "label": label, "stage": stage, "iteration": iteration}

    rows = [row("weak_floor", "weak floor", "baselines"), row("full_weak", "full weak FT", "baselines"),
            row("weak_icl", "weak-ICL", "baselines")]
    rows += [row(f"iter{i}-{v}", f"{v}-ft (iter {i})" + (" = M_plus" if (i, v) == (iterations, "hybrid") else ""),
                 "stage I", i) for i in range(1, iterations + 1) for v in ("weak", "icl", "hybrid")]
    rows += [row(key, label, "stage II") for key, label in stage2]
    return rows + [row("ceiling", "strong ceiling", "ceiling")]


METHODS = [r["key"] for r in method_rows() if r["key"] != "ceiling"]


def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fnum(text):
    return float(text) if text not in ("", None) else None


def run_dir(root: Path, seed: int | None) -> Path:
    """Today's single-seed paths (seed None) or the registry's seed level."""
    return root / f"results/{EXP}" if seed is None else root / f"results/{EXP}/seed{seed}"


def write_eval(root: Path, owner: str, method: str, ids: list[str], rng: random.Random, testset: str = DATASET,
               rate: float | None = None, seed: int = 0, seed_dirs: bool = False) -> Path:
    rate = RATES[method] if rate is None else rate
    rows = []
    for qid in ids:
        ok = rng.random() < rate
        rows.append({"id": qid, "question": f"q {qid}", "response": f"... #### {1 if ok else 2}", "gold": "1",
                     "pred": "1" if ok else "2", "correct": ok})
    base = run_dir(root, seed if seed_dirs else None) / f"{owner}/eval/{method}/{testset}"
    write_jsonl(f"{base}.jsonl", rows)
    n_correct = sum(r["correct"] for r in rows)
    write_json(f"{base}.metrics.json", {"exp": EXP, "owner": owner, "method": method, "testset": testset, "seed": seed,
                                        "model": "m", "task": "gsm8k", "n": len(rows), "correct": n_correct,
                                        "accuracy": n_correct / len(rows), "answered": len(rows),
                                        "grader": "test-grader/equivalence", "generation": {}})
    return Path(f"{base}.metrics.json")


def build_eval_tree(root: Path, n_test: int = 80, seed: int = 0, weak_models=WEAK, methods=METHODS,
                    seeds: list[int] | None = None) -> list[str]:
    """Predictions and metrics of every cell; several ``seeds``: one run per seed under seed{s}/."""
    paths = []
    for s in seeds if seeds is not None else [seed]:
        rng = random.Random(1000 + s)
        ids = [f"t{i}" for i in range(n_test)]
        kw = {"seed": s, "seed_dirs": seeds is not None}
        paths += [write_eval(root, w, m, ids, rng, **kw) for w in weak_models for m in methods]
        paths.append(write_eval(root, "ceiling", "ceiling", ids, rng, **kw))
    return [str(p) for p in paths]


def response(answer: str | None) -> str:
    return "steps\n#### " + answer if answer is not None else "steps without a final answer"


def gold_path(root: Path, seed: int | None = None) -> Path:
    return root / (f"results/data/{DATASET}/train_2.gold.jsonl" if seed is None
                   else f"results/data/{DATASET}/seed{seed}/train_2.gold.jsonl")


def _write_stage1(base: Path, gold: dict, answer) -> None:
    for it in (1, 2):
        sides = {"weak": {q: answer(q, 0.4 + 0.1 * it) for q in gold}, "icl": {q: answer(q, 0.5 + 0.1 * it) for q in gold}}
        for side, answers in sides.items():
            write_jsonl(base / f"stage1/iter{it}/{side}.answers.jsonl",
                        [{"id": q, "response": response(a)} for q, a in answers.items()])
        kept = [q for q in gold if sides["weak"][q] is not None and sides["weak"][q] == sides["icl"][q]]
        sets = {v: [] for v in ("weak", "icl", "hybrid")}
        for q in kept:
            for side in ("weak", "icl"):
                rec = {"id": q, "prompt": f"Question: q {q}\nAnswer:", "completion": " " + response(sides[side][q]),
                       "answer": sides[side][q], "source": side}
                sets[side].append(rec)
                sets["hybrid"].append(rec)
        for v, recs in sets.items():
            write_jsonl(base / f"sft_sets/iter{it}-{v}.jsonl", recs)
        write_json(base / f"stage1/iter{it}/filter.json", {"questions": len(gold), "kept": len(kept), "weak_empty": 0,
                                                           "mode": "equivalence", "grader": "test"})


def _write_stage2(base: Path, gold: dict, rng: random.Random, n_samples: int) -> list[tuple[int, int]]:
    votes, pairs, per_q = [], [], []
    for q in gold:
        c = rng.randrange(n_samples + 1)
        per_q.append((n_samples, c))
        majority = gold[q] if rng.random() < 0.7 else str(int(gold[q]) + 1)
        if rng.random() < 0.05:
            majority = ""
        conf = rng.randrange(1, n_samples + 1) / n_samples
        decision = rng.choice(["weak_chosen", "weak_rejected", "low_confidence"])
        votes.append({"id": q, "majority": majority, "confidence": conf, "weak_answer": gold[q], "decision": decision})
        if decision != "low_confidence":
            chosen = gold[q] if rng.random() < 0.8 else "x"
            rejected = str(int(gold[q]) + 5) if rng.random() < 0.85 else gold[q]
            pairs.append({"id": q, "prompt": "p", "chosen": "c", "rejected": "r", "kind": decision, "confidence": conf,
                          "chosen_answer": chosen, "rejected_answer": rejected})
    write_jsonl(base / "stage2/votes.jsonl", votes)
    write_jsonl(base / "stage2/pairs.jsonl", pairs)
    write_json(base / "stage2/passk.json", {
        "n": n_samples, "questions": len(per_q), "grader": "test",
        "sample_accuracy": sum(c for _, c in per_q) / sum(n for n, _ in per_q),
        "pass_at_k": {str(k): mean_pass_at_k(per_q, k) for k in range(1, n_samples + 1)}})
    return per_q


def build_stage_tree(root: Path, n_questions: int = 40, seed: int = 1, weak_models=WEAK, n_samples: int = 6,
                     seed_dirs: bool = False, run_seed: int = 0) -> dict:
    """train_2 gold, both sides' answers and the filtered sets per iteration, votes, pairs, passk of one
    run (``run_seed``; ``seed`` draws the synthetic content). Returns the (n, c) sample counts per weak model."""
    rng = random.Random(seed)
    gold = {f"q{i}": str(i + rng.randrange(3)) for i in range(n_questions)}
    where = run_seed if seed_dirs else None
    write_jsonl(gold_path(root, where), [{"id": q, "answer": a, "solution": f"so #### {a}"} for q, a in gold.items()])

    def answer(q, p):
        r = rng.random()
        return gold[q] if r < p else (None if r > 0.95 else str(int(gold[q]) + 1 + rng.randrange(2)))

    counts = {}
    for weak in weak_models:
        base = run_dir(root, where) / weak
        _write_stage1(base, gold, answer)
        counts[weak] = _write_stage2(base, gold, rng, n_samples)
    return counts


def layout(root: Path, weak_models=WEAK, seed: int | None = None) -> dict:
    """One run's layout per weak model (w2s.report.data_quality)."""
    out = {}
    for weak in weak_models:
        base = run_dir(root, seed) / weak
        out[weak] = {"iterations": {str(i): {"weak": str(base / f"stage1/iter{i}/weak.answers.jsonl"),
                                             "icl": str(base / f"stage1/iter{i}/icl.answers.jsonl"),
                                             "sets": {v: str(base / f"sft_sets/iter{i}-{v}.jsonl")
                                                      for v in ("weak", "icl", "hybrid")},
                                             "filter": str(base / f"stage1/iter{i}/filter.json")} for i in (1, 2)},
                     "votes": str(base / "stage2/votes.jsonl"), "pairs": str(base / "stage2/pairs.jsonl")}
    return out


def main_outputs(root: Path) -> dict:
    t, f = root / "results/tables/toy", root / "results/figures/toy"
    return {"csv": f"{t}.csv", "long_csv": f"{t}.long.csv", "md": f"{t}.md", "tex": f"{t}.tex", "html": f"{t}.html",
            "figure_png": f"{f}.png", "figure_pdf": f"{f}.pdf", "provenance": f"{t}.provenance.json"}


def dq_outputs(root: Path) -> dict:
    out = {k: str(root / f"results/tables/toy.data_quality.{k}") for k in ("csv", "md", "tex", "html")}
    out.update(figure_png=str(root / "results/figures/toy.data_quality.png"),
               figure_pdf=str(root / "results/figures/toy.data_quality.pdf"),
               provenance=str(root / "results/tables/toy.data_quality.provenance.json"))
    return out


def passk_outputs(root: Path) -> dict:
    out = {k: str(root / f"results/tables/toy.passk.{k}") for k in ("csv", "md", "tex", "html")}
    out["provenance"] = str(root / "results/tables/toy.passk.provenance.json")
    return out
