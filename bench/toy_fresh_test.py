"""How precise is the toy table's stage II gain? The models of a finished toy run, graded on fresh
questions of the same generator that no model has seen. Prints two tables (measured:
bench/toy_world_calibration.md, section 9).

    python bench/toy_fresh_test.py                          # results/toy/seed0 (make run), 3,000 questions
    python bench/toy_fresh_test.py --seed 7 --config config/config.yaml   # after a run of seeds: [7, ...]

Why: the toy test split has 300 questions, so a paired 95% interval of a difference between two
models is about +-3 points wide, and stage II's gain over M_plus (a few points) can sit inside it
whether it is real or not. Grading the same checkpoints on many more questions says which: a
narrow interval around the same gain (a real effect that 300 questions cannot resolve) or one
around 0 (noise). It changes nothing in the workflow: a larger test split would be a new toy world
(the tokenizer reads every split's questions and the pretraining redraws around them), so the run's
own table cannot simply be re-graded.

Fresh questions: drawn with the generator of w2s.toy (the run's toy.data settings) from a seed of
their own, none equal to a question of the run's splits or of the strong model's pretraining text
(w2s.toy.pretraining_questions redraws that text exactly as the pretraining drew it).
Each model answers greedily with the workflow's own evaluation (w2s.evaluation.evaluate: prompts,
decoding, grader); only fine-tuned models, which answer zero-shot. Files go to --work.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

# The seed of the fresh draw is the run's seed plus this, far from any seed a run uses.
FRESH_SEED_OFFSET = 7_000_003


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "config/config.yaml"), help="the config the run used")
    ap.add_argument("--results", default=str(ROOT / "results"), help="the run's results folder")
    ap.add_argument("--exp", default="toy")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=3000, help="fresh questions")
    ap.add_argument("--methods", nargs="+", default=None,
                    help="models of the run's weak side to grade (folders of {weak}/models/; default: full "
                         "weak FT, M_plus and every stage II method of the config)")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default=None, help="default: results/bench/toy_fresh_test/seed{N}")
    return ap.parse_args(argv)


def fresh_questions(n: int, seed: int, data_cfg: dict, exclude: set[str]) -> list[dict]:
    """``n`` normalised test rows (id, question, answer, solution) whose questions are not in ``exclude``."""
    from w2s.data import normalise_gsm8k
    from w2s.toy.problems import make_problems

    rows = make_problems(n, seed + FRESH_SEED_OFFSET, data_cfg, exclude=exclude)
    return [normalise_gsm8k({"id": f"fresh-{i:05d}", "question": r["question"], "answer": r["answer"]}, i,
                            "fresh question")
            for i, r in enumerate(rows)]


def paired(a, b, draws, level=0.95):
    """Point difference (points) and percentile interval of mean(a) - mean(b) over shared resamples."""
    from w2s.metrics import percentile_interval

    diff = a.astype(float) - b.astype(float)
    lo, hi = percentile_interval((diff[draws].mean(axis=1) * 100).tolist(), level)
    return diff.mean() * 100, lo, hi


def main(argv=None) -> None:
    args = parse_args(argv)
    import numpy as np

    from w2s import registry
    from w2s.config import read_config_file, validate_config
    from w2s.evaluation import evaluate
    from w2s.io import read_jsonl, write_json, write_jsonl
    from w2s.metrics import bootstrap_indices, percentile_interval
    from w2s.toy import pretraining_questions
    from w2s.toy.problems import SPLITS, read_split

    config = validate_config(read_config_file(args.config), check_paths=False)
    exp = config["experiments"][args.exp]
    dataset = config["datasets"][exp["dataset"]]
    if dataset["source"] != "toy":
        sys.exit(f"error: experiment {args.exp} does not run on a toy dataset")
    weak, strong = exp["weak"][0], exp["strong"]
    m_plus = registry.m_plus_key(exp["iterations"])
    methods = args.methods or ["full_weak", m_plus, *exp["stage2"]["methods"]]
    # The table's stage gains: stage I over full weak FT, each stage II method over M_plus.
    compares = [(m_plus, "full_weak")] + [(m, m_plus) for m in exp["stage2"]["methods"]]
    compares = [(a, b) for a, b in compares if a in methods and b in methods]
    run = Path(args.results) / args.exp / f"seed{args.seed}"
    world = Path(args.results) / "toy_world" / f"seed{args.seed}"
    work = Path(args.work or Path(args.results) / "bench" / "toy_fresh_test" / f"seed{args.seed}")
    models = {m: run / weak / "models" / m for m in methods}
    missing = [str(p) for p in [world / "data", world / "tokenizer", *models.values()] if not p.exists()]
    if missing:
        sys.exit("error: not found (run the workflow for this seed first): " + ", ".join(missing))

    known = set()
    for s in SPLITS:
        known |= {r["question"] for r in read_split(world / "data", s)}
    strong_cfg = config["models"][strong]["toy"]
    print(f"redrawing the pretraining text of {strong} (seed {args.seed}) ...", file=sys.stderr)
    pretraining = pretraining_questions(strong_cfg, args.seed, known)
    known |= pretraining
    test = fresh_questions(args.n, args.seed, config["toy"]["data"], known)
    work.mkdir(parents=True, exist_ok=True)
    test_path = work / "fresh_test.jsonl"
    write_jsonl(test_path, test)

    engine = config["models"][strong]["generation"]
    sampling = {"max_new_tokens": dataset["max_new_tokens"], "seed": args.seed}
    vectors, original = {}, {}
    for method, model in models.items():
        print(f"grading {method} on {len(test)} fresh questions ...", file=sys.stderr)
        out = work / method
        evaluate(test_path=str(test_path), demos_path=None, model=str(model), task=dataset["task"],
                 engine=dict(engine), sampling=dict(sampling), gpus=0, work_dir=str(out / "work"),
                 threads=args.threads, workers=1, predictions_path=str(out / "fresh.jsonl"),
                 metrics_path=str(out / "fresh.metrics.json"), info={"method": method, "seed": args.seed},
                 modes=tuple(config["grading"]["accuracy"]))
        graded = {r["id"]: bool(r["correct"]) for r in read_jsonl(out / "fresh.jsonl")}
        vectors[method] = np.array([graded[r["id"]] for r in test], dtype=bool)
        eval_dir = run / weak / "eval" / method
        rows = read_jsonl(eval_dir / f"{exp['test_sets'][0]}.jsonl")
        original[method] = np.array([bool(r["correct"]) for r in rows], dtype=bool)

    level = 0.95
    fresh_draws = np.asarray(bootstrap_indices(len(test), args.resamples, args.seed), dtype=np.int64)
    n_orig = len(next(iter(original.values())))
    orig_draws = np.asarray(bootstrap_indices(n_orig, args.resamples, args.seed), dtype=np.int64)

    def acc_cell(vec, draws):
        lo, hi = percentile_interval((vec[draws].mean(axis=1) * 100).tolist(), level)
        return f"{vec.mean() * 100:.1f} [{lo:.1f}, {hi:.1f}]"

    print(f"\n{args.exp}, seed {args.seed}: the run's test split ({n_orig} questions) and {len(test)} fresh "
          f"questions, none in the splits or among the {len(pretraining):,} distinct questions of {strong}'s "
          f"pretraining text; accuracy % [95% bootstrap CI]\n")
    print(f"| model | test split ({n_orig}) | fresh ({len(test)}) |")
    print("|---|---:|---:|")
    for m in models:
        print(f"| {m} | {acc_cell(original[m], orig_draws)} | {acc_cell(vectors[m], fresh_draws)} |")
    print(f"\n| difference (points) | test split ({n_orig}) | fresh ({len(test)}) |")
    print("|---|---:|---:|")
    for a, b in compares:
        cells = []
        for vecs, draws in ((original, orig_draws), (vectors, fresh_draws)):
            d, lo, hi = paired(vecs[a], vecs[b], draws, level)
            cells.append(f"{d:+.1f} [{lo:+.1f}, {hi:+.1f}]")
        print(f"| {a} - {b} | {cells[0]} | {cells[1]} |")
    summary = {m: {"fresh": float(vectors[m].mean()), "test": float(original[m].mean())} for m in models}
    write_json(work / "summary.json", {"seed": args.seed, "n": len(test), "accuracy": summary})


if __name__ == "__main__":
    main()
