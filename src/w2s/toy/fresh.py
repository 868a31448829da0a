"""The toy world's graded test set: the test split plus fresh problems that no toy model has read.

Why: a paired 95% interval of a difference between two models on the 300-question test split is
about +-3 points wide, so a gain of a few points (stage II's over M_plus in the toy) sits inside
it whether it is real or not (bench/toy_world_calibration.md, section 9). A larger test split would
be another toy world: the tokenizer reads every split's questions and the pretraining draws its
text around them. The fresh problems are drawn after the world instead, around every question of
its splits and of each toy model's pretraining text, so their number (``toy.fresh_test``) changes
no model, only how many questions the table grades.
"""

from __future__ import annotations

from pathlib import Path

from ..io import InputError, write_jsonl
from .model import pretraining_questions
from .problems import make_problems, questions_of_splits, read_split

# The fresh draw's seed is the run's seed plus this, far from any seed a run uses.
FRESH_SEED_OFFSET = 7_000_003


def fresh_problems(n: int, seed: int, data_cfg: dict, models: dict[str, dict], data_dir: str | Path) -> list[dict]:
    """``n`` problems (raw GSM8K rows, ids ``toy-fresh-00000``...) whose questions are in no split of
    ``data_dir`` and in no pretraining text of the toy ``models`` (name -> ``models.<name>.toy``),
    each redrawn exactly as ``w2s.toy.build_model`` drew it for this ``seed``."""
    if n <= 0:
        return []
    splits = questions_of_splits(data_dir)
    known = set(splits)
    for cfg in models.values():
        # Pretraining left out the splits' questions, so the redraw must too to draw the same text.
        known |= pretraining_questions(cfg, seed, splits)
    try:
        rows = make_problems(n, seed + FRESH_SEED_OFFSET, data_cfg, exclude=known)
    except ValueError as e:
        raise InputError(f"toy.fresh_test: {n} fresh problems do not fit beside the {len(known):,} questions "
                         f"of the splits and the pretraining texts ({e}) Lower toy.fresh_test.") from None
    return [{"id": f"toy-fresh-{i:05d}", "question": r["question"], "answer": r["answer"]}
            for i, r in enumerate(rows)]


def write_graded_test(out_path: str | Path, data_dir: str | Path, n_fresh: int, data_cfg: dict,
                      models: dict[str, dict], seed: int) -> dict:
    """Write the test split of ``data_dir`` followed by ``n_fresh`` fresh problems to ``out_path``.

    Returns counts for the job's log: test-split rows, fresh rows.
    """
    test = read_split(data_dir, "test", {"id": str, "question": str, "answer": str})
    fresh = fresh_problems(n_fresh, seed, data_cfg, models, data_dir)
    write_jsonl(out_path, [*test, *fresh])
    return {"test_split": len(test), "fresh": len(fresh)}
