"""Grading throughput on the real data in ../shared/data: answers graded per second.

    python bench/grading.py                    # workers 1 and 2, GSM8K and MATH, one table
    python bench/grading.py --workers 2 --repeat 3

GSM8K: the 7,000 real weak answers (weak_outputs/gsm8k_train_2/llama2_7b.jsonl) against the gold
of gsm8k/train_2.jsonl. MATH: 1,500 responses built from MATH500 (per problem: a solution ending
"The answer is: <gold rewritten: \\dfrac, \\left(, spaces>", one ending with \\boxed{<gold>}, and
one giving the next problem's answer), so about two thirds are correct. Each measurement starts
with no symbolic worker running (worker start-up is included), the whole of ``grade_rows``
(extraction, normalisation, fast layer, symbolic workers) is timed, and the accuracy column
shows that the work was really done. Targets: >= 1,000 GSM8K and >= 100 MATH answers/s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from w2s.grading import grade_rows, shutdown_workers  # noqa: E402
from w2s.grading.compare import NeedSymbolic, Checker  # noqa: E402


def _read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def gsm8k_rows(data: Path) -> list[dict]:
    weak = _read(data / "weak_outputs" / "gsm8k_train_2" / "llama2_7b.jsonl")
    gold = _read(data / "gsm8k" / "train_2.jsonl")
    return [{"response": r["response"], "gold": gold[r["id"]]["answer"]} for r in weak]


def _rewrite(answer: str) -> str:
    s = answer.replace("\\frac", "\\dfrac")
    s = s.replace("(", "\\left( ").replace(")", " \\right)").replace(",", ", ")
    return s


def math_rows(data: Path) -> list[dict]:
    problems = _read(data / "math" / "test.jsonl")
    rows = []
    for i, p in enumerate(problems):
        solution = re.sub(r"\\boxed\{", "{", p["solution"])[:1500]
        other = problems[(i + 1) % len(problems)]["answer"]
        rows.append({"response": f"{solution}\nThe answer is: {_rewrite(p['answer'])}", "gold": p["answer"]})
        rows.append({"response": f"{solution}\nSo the final result is $\\boxed{{{p['answer']}}}$.", "gold": p["answer"]})
        rows.append({"response": f"{solution}\nThe answer is: {other}", "gold": p["answer"]})
    return rows


def symbolic_share(rows: list[dict], task: str) -> float:
    """Share of rows the fast layer cannot decide (they go to the worker processes)."""
    from w2s.grading import _equivalent, _gold_answer, extract_answer

    need = 0
    for r in rows:
        try:
            _equivalent(_gold_answer(r["gold"], task), extract_answer(r["response"], task), task, None, Checker(fast_only=True))
        except NeedSymbolic:
            need += 1
    return need / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1, help="measurements per setting; the table shows the best")
    args = parser.parse_args()
    if not (args.data / "gsm8k").is_dir():
        sys.exit(f"data folder not found: {args.data} (expected ../shared/data beside the repository)")

    sets = {"gsm8k": gsm8k_rows(args.data), "math": math_rows(args.data)}
    print(f"{'task':<7} {'rows':>6} {'workers':>7} {'symbolic':>8} {'seconds':>8} {'answers/s':>10} {'accuracy':>8}")
    for task, rows in sets.items():
        share = symbolic_share(rows, task)
        for workers in args.workers:
            best = None
            for _ in range(args.repeat):
                shutdown_workers()  # cold start: worker start-up is part of the measurement
                t = time.perf_counter()
                graded = grade_rows(rows, task, workers=workers)
                dt = time.perf_counter() - t
                best = dt if best is None else min(best, dt)
            acc = sum(r["correct"] for r in graded) / len(graded)
            print(f"{task:<7} {len(rows):>6} {workers:>7} {share:>8.1%} {best:>8.2f} {len(rows) / best:>10.0f} {acc:>8.3f}")
    shutdown_workers()


if __name__ == "__main__":
    main()
