"""The workflow's vocabularies, in one place: tasks, dataset formats, grading modes, CPU kernel
settings, the SFT variants of stage I, the preference trainers of stage II, and the rows of the
main table.

The schema's enums (``x-vocabulary`` in config/schema.yaml), the rules' wildcard constraints, the
CLI's choices and the tables' rows, labels and order are derived from what is listed here and from
the config (the stage II methods an experiment configures), never from lists kept in several files.
Defaults live in config/schema.yaml; the one exception is a task's pairs per question, which
differs by task (``Task.max_pairs``, the paper's values).

Kept free of heavy imports: the Snakefile imports it while building the DAG. Classes and functions
are named by ``"module:attribute"`` strings and imported only when used (``load``).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field


def load(ref: str):
    """The object a ``"module:attribute"`` string names (imported on first use)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


# ---------------------------------------------------------------- tasks and dataset formats
@dataclass(frozen=True)
class Task:
    """What a task decides: the prompt's answer key and the grader (by the task's name), the stage II
    pairs per question, and the raw format its own source comes in (a dataset's default format)."""

    answer_key: str
    max_pairs: int  # METHOD.md: 1 pair per question for GSM8K, 3 for MATH and OlympicArena
    format: str
    description: str


TASKS: Mapping[str, Task] = {
    "gsm8k": Task("####", 1, "gsm8k", "grade-school word problems; numeric answers after '####'"),
    "math": Task("The answer is:", 3, "math", "competition math; LaTeX answers after 'The answer is:'"),
    "olympicarena": Task("The final answer is", 3, "olympicarena",
                         "olympiad problems; typed answers (NV, EX, MC, ...), boxed after 'The final answer is'"),
}


@dataclass(frozen=True)
class DatasetFormat:
    """How raw rows of a source become normalised rows (id, question, answer, solution).

    ``normaliser``: ``"module:function"`` called as ``function(raw, index, where)``, or with
    ``mapped`` as ``function(raw, index, where, rule)`` where ``rule`` is the dataset's config
    (its ``fields`` and ``answer_from``).
    """

    normaliser: str
    mapped: bool
    description: str


FORMATS: Mapping[str, DatasetFormat] = {
    "gsm8k": DatasetFormat("w2s.data:normalise_gsm8k", False, "GSM8K rows: question, answer (the solution, '#### N')"),
    "math": DatasetFormat("w2s.data:normalise_math", False, "MATH rows: problem, solution with \\boxed{}, answer"),
    "olympicarena": DatasetFormat("w2s.data:normalise_olympicarena", False, "OlympicArena rows (GAIR/OlympicArena)"),
    "jsonl": DatasetFormat("w2s.data:normalise_mapped", True,
                           "any rows: `fields` names the id/question/answer/solution fields, `answer_from` "
                           "says where the final answer is"),
}


# How the filter and the vote compare answers (and, for "paper", how accuracy is graded):
# w2s.grading's docstring.
GRADING_MODES = ("equivalence", "exact", "paper")


# ---------------------------------------------------------------- CPU kernels (schema: cpu_kernels)
# The environment each setting gives every job on x86-64, read before torch loads. Training is
# chaotic, so the kernels' rounding decides the files: AVX-512 kernels gave the toy default another
# table (bench/toy_world_calibration.md, section 8). "native": torch's own choice.
CPU_KERNELS: Mapping[str, Mapping[str, str]] = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"},
    "native": {},
}


def cpu_kernel_env(setting: str, machine: str) -> dict[str, str]:
    """The variables a ``cpu_kernels`` setting sets on a machine (``platform.machine()``): x86 only."""
    return dict(CPU_KERNELS[setting]) if machine.lower() in ("x86_64", "amd64") else {}


# ---------------------------------------------------------------- stage I
# METHOD.md step 4: the strong model fine-tuned on the weak side's kept answers, on the in-context
# side's, or on both (hybrid). The weak and icl sides are also the two answer sets of an iteration.
SFT_VARIANTS = ("weak", "icl", "hybrid")
ANSWER_SIDES = ("weak", "icl")


# ---------------------------------------------------------------- stage II
@dataclass(frozen=True)
class PreferenceTrainer:
    """A TRL preference trainer: its classes, and the options of its config class a method may set.

    ``options``: option -> allowed values (None: any value of the type config/schema.yaml gives it,
    ``$defs.preference_options``). Every other key of a method entry is a training key
    (``$defs.training``), which all trainers share.
    """

    trainer: str
    config: str
    options: Mapping[str, tuple | None]
    label: str
    loss_labels: Mapping[str, str] = field(default_factory=dict)


DPO_LOSSES = ("sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
              "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm")
CPO_LOSSES = ("sigmoid", "hinge", "ipo", "simpo", "alphapo")

PREFERENCE_TRAINERS: Mapping[str, PreferenceTrainer] = {
    "dpo": PreferenceTrainer(
        "trl:DPOTrainer", "trl:DPOConfig",
        {"beta": None, "loss_type": DPO_LOSSES, "loss_weights": None, "label_smoothing": None, "ld_alpha": None,
         "f_divergence_type": ("reverse_kl", "forward_kl", "js_divergence", "alpha_divergence"),
         "f_alpha_divergence_coef": None, "use_weighting": None, "discopop_tau": None, "disable_dropout": None,
         "precompute_ref_log_probs": None, "sync_ref_model": None, "ref_model_mixup_alpha": None,
         "ref_model_sync_steps": None},
        "DPO", {"ipo": "IPO", "sigmoid_norm": "DPO (length-normalised)"},
    ),
    "orpo": PreferenceTrainer(
        "trl.experimental.orpo:ORPOTrainer", "trl.experimental.orpo:ORPOConfig",
        {"beta": None, "disable_dropout": None, "max_completion_length": None},
        "ORPO",
    ),
    "cpo": PreferenceTrainer(
        "trl.experimental.cpo:CPOTrainer", "trl.experimental.cpo:CPOConfig",
        {"beta": None, "loss_type": CPO_LOSSES, "label_smoothing": None, "cpo_alpha": None, "simpo_gamma": None,
         "alpha": None, "disable_dropout": None, "max_completion_length": None},
        "CPO", {"simpo": "SimPO", "alphapo": "AlphaPO", "ipo": "CPO (IPO loss)", "hinge": "CPO (hinge loss)"},
    ),
}


def _losses(entry: Mapping) -> list[str]:
    loss = entry.get("loss_type")
    return [] if loss is None else [loss] if isinstance(loss, str) else list(loss)


def method_label(entry: Mapping) -> str:
    """A stage II method's table label: its ``label``, else one derived from trainer and loss.

    DPO with TRL's ``sft`` loss beside the preference loss is RPO (DPO + NLL on the chosen answer,
    arXiv 2404.19733); CPO's ``simpo`` loss without the behaviour-cloning term (cpo_alpha 0) is
    SimPO, with it CPO-SimPO.
    """
    if entry.get("label"):
        return str(entry["label"])
    spec = PREFERENCE_TRAINERS[entry["trainer"]]
    losses = _losses(entry)
    if entry["trainer"] == "dpo" and "sft" in losses and len(losses) > 1:
        return "DPO + NLL (RPO)"
    if entry["trainer"] == "cpo" and losses == ["simpo"]:
        # TRL's CPOConfig adds the behaviour-cloning term unless cpo_alpha is 0.
        return "SimPO" if entry.get("cpo_alpha") == 0 else "CPO-SimPO"
    if len(losses) == 1 and losses[0] in spec.loss_labels:
        return spec.loss_labels[losses[0]]
    return spec.label


# ---------------------------------------------------------------- vocabularies of the schema
def vocabulary(name: str) -> list[str]:
    """The allowed values of a schema key marked ``x-vocabulary: <name>`` (w2s.config.load_schema)."""
    vocabularies = {"task": TASKS, "dataset_format": FORMATS, "grading_mode": GRADING_MODES,
                    "preference_trainer": PREFERENCE_TRAINERS, "cpu_kernels": CPU_KERNELS}
    if name not in vocabularies:
        raise KeyError(f"unknown vocabulary {name!r} (known: {', '.join(vocabularies)})")
    return list(vocabularies[name])


# ---------------------------------------------------------------- the main table
# Table stages, in display order.
STAGES = ("baselines", "stage I", "stage II", "ceiling")

# Baselines of the main table, in display order: key -> label.
BASELINES = {"weak_floor": "weak floor", "full_weak": "full weak FT", "weak_icl": "weak-ICL"}
CEILING = {"key": "ceiling", "label": "strong ceiling", "stage": "ceiling", "iteration": None}


_ITERATION_PATTERN = rf"iter[1-9][0-9]*-({'|'.join(SFT_VARIANTS)})"


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


def table_methods(experiment: Mapping) -> list[dict]:
    """Every row of an experiment's main table in display order (``experiment``: its validated config).

    Each row is ``{"key", "label", "stage", "iteration"}``: the baselines, stage I per iteration,
    the configured stage II methods in config order, and the strong ceiling last.
    """
    rows = [{"key": k, "label": v, "stage": "baselines", "iteration": None} for k, v in BASELINES.items()]
    rows += stage1_rows(experiment["iterations"])
    rows += [{"key": key, "label": method_label(entry), "stage": "stage II", "iteration": None}
             for key, entry in experiment["stage2"]["methods"].items()]
    return [*rows, dict(CEILING)]


def table_roles(experiment: Mapping) -> dict:
    """Which rows the PGR and the stage II comparisons are computed against."""
    return {"floor": "weak_floor", "ceiling": CEILING["key"], "full_weak": "full_weak",
            "m_plus": m_plus_key(experiment["iterations"])}


def reserved_method_key(key: str) -> bool:
    """Whether a stage II method name would collide with a baseline or stage I model's folder."""
    return key in BASELINES or key == CEILING["key"] or re.fullmatch(_ITERATION_PATTERN, key) is not None


def method_pattern(stage2_keys) -> str:
    """A regex of every evaluated method key (Snakemake's ``method`` wildcard)."""
    fixed = [*BASELINES, CEILING["key"], *stage2_keys]
    return "|".join([*map(re.escape, fixed), _ITERATION_PATTERN])


def sft_set_pattern() -> str:
    """A regex of every SFT set the strong model is trained on (Snakemake's ``sftset`` wildcard)."""
    return "|".join([_ITERATION_PATTERN, "full_weak", CEILING["key"]])
