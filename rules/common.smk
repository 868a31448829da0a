# Config accessors, path helpers, wildcard constraints and input functions shared by all rules.
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from w2s.config import canonical, validate_config  # noqa: E402
from w2s.models import MODEL_CARD, TRAINING_RECORD  # noqa: E402

# Validate (and fill defaults) before any job is scheduled: a bad overlay fails here, in seconds.
validate_config(config, Path(workflow.basedir) / "config" / "schema.yaml")

# glibc malloc settings measured 3x faster for small-model training on CPU (docs: DESIGN notes in
# README); jobs inherit them. Only for CPU-only configs: GPU nodes load 100+ GB checkpoints.
CPU_ONLY = all(
    job["gpus"] == 0
    for m in config["models"].values()
    for job in m["resources"].values()
)
if CPU_ONLY:
    for _key, _value in {
        "MALLOC_MMAP_MAX_": "0",
        "MALLOC_TRIM_THRESHOLD_": "100000000000",
        "MALLOC_TOP_PAD_": "1000000000",
    }.items():
        os.environ.setdefault(_key, _value)

RESULTS = "results"
WORK = f"{RESULTS}/.work"  # resumable state (partial generations, checkpoints): never a declared output
SCRIPTS = Path(workflow.basedir) / "scripts"


def _names(mapping):
    return "|".join(sorted(map(re.escape, mapping))) or "NONE"


def _all_weak():
    return {w for exp in config["experiments"].values() for w in exp["weak"]}


wildcard_constraints:
    exp=_names(config["experiments"]),
    dataset=_names(config["datasets"]),
    weak=_names(_all_weak()),
    owner=_names(_all_weak() | {"ceiling"}),
    iter=r"[1-9][0-9]*",
    side="weak|icl",
    variant="weak|icl|hybrid",
    pref="dpo|orpo",
    toymodel=_names([m for m, c in config["models"].items() if c["path"] == "toy"]),
    testset=_names(config["datasets"]),
    sftset=r"iter[1-9][0-9]*-(weak|icl|hybrid)|full_weak|ceiling",
    method=r"weak_floor|weak_icl|full_weak|ceiling|dpo|orpo|iter[1-9][0-9]*-(weak|icl|hybrid)",


# ---------------------------------------------------------------- config slices (go into params)
def exp_cfg(wc):
    return config["experiments"][wc.exp]


def dataset_cfg(name):
    return config["datasets"][name]


def task_of(wc):
    return dataset_cfg(exp_cfg(wc)["dataset"])["task"]


def model_cfg(name):
    return config["models"][name]


def slice_of(*keys, **kw):
    """A stable, plain copy of one part of the config for params (Snakemake reruns on change)."""
    node = config
    for key in keys:
        node = node[key]
    return canonical(node)


# ---------------------------------------------------------------- models
def base_model_path(name):
    """Where a configured model's weights are: built toy models, hub ids or local folders."""
    path = model_cfg(name)["path"]
    return f"{RESULTS}/toy_world/models/{name}" if path == "toy" else path


def base_model_input(name):
    """The rule that builds a toy model is an input; hub ids and external folders are not."""
    return [base_model_path(name)] if model_cfg(name)["path"] == "toy" else []


def weak_model_path(exp, weak):
    if model_cfg(weak)["finetune"]:
        return f"{RESULTS}/{exp}/{weak}/weak_model"
    return base_model_path(weak)


def weak_model_input(exp, weak):
    if model_cfg(weak)["finetune"]:
        return [training_record(weak_model_path(exp, weak))]
    return base_model_input(weak)


def strong_name(wc):
    return exp_cfg(wc)["strong"]


def last_iter(wc):
    return exp_cfg(wc)["iterations"]


def trained_model_path(exp, owner, sftset):
    return f"{RESULTS}/{exp}/{owner}/models/{sftset}"


def method_model(exp, owner, method):
    """The model a method is evaluated with, and the model's config name (for engine settings)."""
    strong = config["experiments"][exp]["strong"]
    if method == "weak_floor":
        return weak_model_path(exp, owner), owner
    if method == "weak_icl":
        return base_model_path(strong), strong
    return trained_model_path(exp, owner, method), strong


def training_record(folder):
    """A trained model's folder is known to the DAG by the record its training job writes last
    (w2s.models.TRAINING_RECORD), not as a directory(): the model card written into the folder
    after evaluation (rules/release.smk) is then no new input to anything."""
    return f"{folder}/{TRAINING_RECORD}"


def model_input_for(path):
    """A path is an input only when a rule of this workflow makes it; a toy base model as its
    folder, a trained model through its training record."""
    if not path.startswith(f"{RESULTS}/"):
        return []
    if path.startswith(f"{RESULTS}/toy_world/"):
        return [path]
    return [training_record(path)]


# ---------------------------------------------------------------- resources
def job_resources(role, model_of):
    """SLURM resources of a job that runs a model (role: generate | train).

    ``model_of(wc)`` names the configured model whose resources apply; memory and runtime grow
    with each retry (attempt), so a job killed for time or memory gets more on its next try.
    """

    def res(key):
        def get(wc, attempt):
            value = model_cfg(model_of(wc))["resources"][role][key]
            return value * attempt if key in ("mem_mb", "runtime") else value

        return get

    return dict(gpu=res("gpus"), mem_mb=res("mem_mb"), runtime=res("runtime"))


def job_threads(role, model_of):
    return lambda wc: model_cfg(model_of(wc))["resources"][role]["threads"]


def job_gpus(role, model_of):
    return lambda wc: model_cfg(model_of(wc))["resources"][role]["gpus"]


def the_strong(wc):
    return config["experiments"][wc.exp]["strong"]


def the_weak(wc):
    return wc.weak


# ---------------------------------------------------------------- input functions
def dataset_source_input(wc):
    """The toy dataset is made by a rule; a real source is read (and downloaded) by the job."""
    if dataset_cfg(wc.dataset)["source"] == "toy":
        return rules.build_toy_data.output
    return []


def dataset_source(*splits):
    """Only the splits a job reads go into its params: a new test source leaves train_1 alone."""

    def get(wc):
        source = dataset_cfg(wc.dataset)["source"]
        if source == "toy":
            source = {
                s: {"path": f"{RESULTS}/toy_world/data/{s}.jsonl"} for s in splits
            }
        return canonical({s: source[s] for s in splits if s in source})

    return get


def train_2_answers_model(wc):
    """Iteration 1: the weak model (weak side) and the base strong model with demonstrations
    (ICL side); iteration i > 1: iteration i-1's weak-ft / icl-ft models, zero-shot."""
    i = int(wc.iter)
    if i > 1:
        return trained_model_path(
            wc.exp, wc.weak, f"iter{i - 1}-{wc.side}"
        ), strong_name(wc)
    if wc.side == "weak":
        return weak_model_path(wc.exp, wc.weak), wc.weak
    return base_model_path(strong_name(wc)), strong_name(wc)


def answering_model(wc):
    return train_2_answers_model(wc)[1]


def uses_demonstrations(wc):
    return wc.side == "icl" and int(wc.iter) == 1


def m_plus(wc):
    return trained_model_path(wc.exp, wc.weak, f"iter{last_iter(wc)}-hybrid")


def m_plus_input(wc):
    return training_record(m_plus(wc))


def eval_model(wc):
    return method_model(wc.exp, wc.owner, wc.method)


def eval_engine_model(wc):
    return eval_model(wc)[1]


# ---------------------------------------------------------------- targets
def test_sets(exp):
    return config["experiments"][exp]["test_sets"]


def methods(exp):
    cfg = config["experiments"][exp]
    iters = [
        f"iter{i}-{v}"
        for i in range(1, cfg["iterations"] + 1)
        for v in ("weak", "icl", "hybrid")
    ]
    return ["weak_floor", "weak_icl", "full_weak", *iters, *cfg["methods"]]


def has_train_2_gold(exp):
    """The strong ceiling and the train_2 analyses need train_2 gold (OlympicArena has none)."""
    return dataset_cfg(config["experiments"][exp]["dataset"])["train_2_gold"]


def eval_metrics(exp):
    cfg = config["experiments"][exp]
    out = [
        f"{RESULTS}/{exp}/{weak}/eval/{method}/{t}.metrics.json"
        for weak in cfg["weak"]
        for method in methods(exp)
        for t in cfg["test_sets"]
    ]
    if has_train_2_gold(exp):
        out += [
            f"{RESULTS}/{exp}/ceiling/eval/ceiling/{t}.metrics.json"
            for t in cfg["test_sets"]
        ]
    return out


def final_outputs():
    # table_outputs (rules/report_common.smk) lists every table, figure and provenance file.
    return [path for exp in config["experiments"] for path in table_outputs(exp)]
