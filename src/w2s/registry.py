"""The workflow's vocabularies, in one place: the SFT variants of stage I, the baselines and the
rows of the main table.

The schema's enums, the rules' wildcard constraints, the CLI's choices and the tables' rows, labels
and order are all derived from what is listed here and from the config (the stage II methods an
experiment configures), never from lists kept in several files.

Kept free of heavy imports: the Snakefile imports it while building the DAG.
"""

from __future__ import annotations

import re

# Stage I (METHOD.md step 4): the strong model fine-tuned on the weak side's kept answers, on the
# in-context side's, or on both (hybrid). The weak and icl sides are also the two answer sets.
SFT_VARIANTS = ("weak", "icl", "hybrid")
ANSWER_SIDES = ("weak", "icl")

# Table stages, in display order.
STAGES = ("baselines", "stage I", "stage II", "ceiling")

# Baselines of the main table, in display order: key -> label.
BASELINES = {"weak_floor": "weak floor", "full_weak": "full weak FT", "weak_icl": "weak-ICL"}
CEILING = {"key": "ceiling", "label": "strong ceiling", "stage": "ceiling", "iteration": None}


def iteration_method(iteration: int, variant: str) -> str:
    """The key of a stage I model, e.g. ``iter2-hybrid``."""
    return f"iter{iteration}-{variant}"


def m_plus_key(iterations: int) -> str:
    """M_plus: the hybrid-ft model of the last iteration (stage II starts from it)."""
    return iteration_method(iterations, "hybrid")


def stage1_rows(iterations: int) -> list[dict]:
    rows = []
    for i in range(1, iterations + 1):
        for variant in SFT_VARIANTS:
            label = f"{variant}-ft (iter {i})"
            if variant == "hybrid" and i == iterations:
                label += " = M_plus"
            rows.append({"key": iteration_method(i, variant), "label": label, "stage": "stage I", "iteration": i})
    return rows


def table_methods(iterations: int, stage2: list[tuple[str, str]]) -> list[dict]:
    """Every row of an experiment's main table in display order.

    ``stage2``: the configured stage II methods as (key, label), in config order. Each row is
    ``{"key", "label", "stage", "iteration"}``; the strong ceiling comes last.
    """
    rows = [{"key": k, "label": v, "stage": "baselines", "iteration": None} for k, v in BASELINES.items()]
    rows += stage1_rows(iterations)
    rows += [{"key": k, "label": label, "stage": "stage II", "iteration": None} for k, label in stage2]
    return [*rows, dict(CEILING)]


def table_roles(iterations: int) -> dict:
    """Which rows the PGR and the stage II comparisons are computed against."""
    return {"floor": "weak_floor", "ceiling": CEILING["key"], "full_weak": "full_weak", "m_plus": m_plus_key(iterations)}


_ITERATION_PATTERN = rf"iter[1-9][0-9]*-({'|'.join(SFT_VARIANTS)})"


def method_pattern(stage2_keys) -> str:
    """A regex of every evaluated method key (Snakemake's ``method`` wildcard)."""
    fixed = [*BASELINES, CEILING["key"], *stage2_keys]
    return "|".join([*map(re.escape, fixed), _ITERATION_PATTERN])


def sft_set_pattern() -> str:
    """A regex of every SFT set the strong model is trained on (Snakemake's ``sftset`` wildcard)."""
    return "|".join([_ITERATION_PATTERN, "full_weak", CEILING["key"]])
