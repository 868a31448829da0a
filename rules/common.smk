# Config accessors, path patterns, wildcard constraints, named input functions (get_*) and the
# resources of model jobs, shared by all rules.
import os
import platform
import re
import sys
from collections import namedtuple
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from w2s import registry  # noqa: E402
from w2s.config import ConfigError, canonical, validate_config  # noqa: E402
from w2s.models import (  # noqa: E402
    MODEL_CARD,
    TRAINING_RECORD,
    is_hub_model,
    local_model_files,
    with_revision,
)
from w2s.sources import (  # noqa: E402
    DOWNLOAD_CACHE,
    is_local_source,
    is_url_source,
    url_cache_file,
)

# Validate (and fill defaults) before any job is scheduled: a bad overlay fails here, in seconds,
# with the message alone (no traceback of the workflow's code).
try:
    validate_config(config, Path(workflow.basedir) / "config" / "schema.yaml")
except ConfigError as e:
    sys.exit(f"error: {e}")

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
# Same kernels on every x86 machine, so a rerun elsewhere gives the same files (schema:
# cpu_kernels; measured: AVX-512 rounding alone changes the toy default's table). Every job, GPU
# configs too: a job given GPUs may still train on the CPU (the SLURM test's toy run does).
_kernel_env = registry.cpu_kernel_env(config["cpu_kernels"], platform.machine())
for _key, _value in _kernel_env.items():
    os.environ.setdefault(_key, _value)

RESULTS = "results"
WORK = f"{RESULTS}/.work"  # resumable state (partial generations, checkpoints): never a declared output
SEEDS = config["seeds"]
# One run of the method per experiment and seed; its weak models and the ceiling are folders in it.
RUN = f"{RESULTS}/{{exp}}/seed{{seed}}"
RUN_LOGS = f"{RESULTS}/logs/{{exp}}/seed{{seed}}"
RUN_BENCHMARKS = f"{RESULTS}/benchmarks/{{exp}}/seed{{seed}}"
RUN_WORK = f"{WORK}/{{exp}}/seed{{seed}}"
TOY_WORLD = f"{RESULTS}/toy_world/seed{{seed}}"


def _names(mapping):
    return "|".join(sorted(map(re.escape, map(str, mapping)))) or "NONE"


def _all_weak():
    return {w for exp in config["experiments"].values() for w in exp["weak"]}


def _is_toy_dataset(name):
    return config["datasets"][name]["source"] == "toy"


def _data_dirs():
    """What follows results/data/: a dataset's name, and /seed<N> after it for toy sources."""
    real = [re.escape(d) for d in config["datasets"] if not _is_toy_dataset(d)]
    toy = [
        f"{re.escape(d)}/seed({_names(SEEDS)})"
        for d in config["datasets"]
        if _is_toy_dataset(d)
    ]
    return "|".join(sorted(real + toy)) or "NONE"


def _stage2_keys():
    return {
        m for exp in config["experiments"].values() for m in exp["stage2"]["methods"]
    }


def get_remote_sources(wc=None):
    """What ``prefetch`` downloads of the data: every hub and URL split source of every dataset."""
    return canonical(
        [
            {**spec, "key": f"datasets.{name}.source.{split}.path"}
            for name, dataset in config["datasets"].items()
            if dataset["source"] != "toy"
            for split, spec in dataset["source"].items()
            if not is_local_source(spec["path"])
        ]
    )


def _url_sources():
    """{file in the download cache (relative to it): {url, key}} of every URL source of
    ``get_remote_sources``; key: the first config key naming the URL (for messages)."""
    found = {}
    for source in get_remote_sources():
        if is_url_source(source["path"]):
            cached = str(url_cache_file(source["path"]).relative_to(DOWNLOAD_CACHE))
            found.setdefault(cached, {"url": source["path"], "key": source["key"]})
    return found


URL_SOURCES = _url_sources()


wildcard_constraints:
    exp=_names(config["experiments"]),
    seed=_names(SEEDS),
    data=_data_dirs(),
    weak=_names(_all_weak()),
    owner=_names(_all_weak() | {"ceiling"}),
    iter=r"[1-9][0-9]*",
    side="|".join(registry.ANSWER_SIDES),
    pref=_names(_stage2_keys()),
    toymodel=_names([m for m, c in config["models"].items() if c["path"] == "toy"]),
    testset=_names(config["datasets"]),
    sftset=registry.sft_set_pattern(),
    method=registry.method_pattern(_stage2_keys()),
    download=_names(URL_SOURCES),


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


def run_seed(wc):
    """The seed of this run: data, models, demonstrations, sampling and training all take it."""
    return int(wc.seed)


# ---------------------------------------------------------------- paths
def data_dir(dataset, seed):
    """Normalised splits; per seed only for toy sources (their rows come from the seeded toy world)."""
    if _is_toy_dataset(dataset):
        return f"{RESULTS}/data/{dataset}/seed{seed}"
    return f"{RESULTS}/data/{dataset}"


def run_dir(exp, seed, owner):
    return f"{RESULTS}/{exp}/seed{seed}/{owner}"


def base_model_path(name, seed):
    """Where a configured model's weights are: built toy models, local folders, or hub ids
    (``owner/name@revision`` when ``models.<name>.revision`` pins one: w2s.models.split_revision).
    """
    model = model_cfg(name)
    if model["path"] == "toy":
        return f"{RESULTS}/toy_world/seed{seed}/models/{name}"
    return with_revision(model["path"], model["revision"])


def weak_model_path(exp, seed, weak):
    if model_cfg(weak)["finetune"]:
        return f"{run_dir(exp, seed, weak)}/weak_model"
    return base_model_path(weak, seed)


def trained_model_path(exp, seed, owner, sftset):
    return f"{run_dir(exp, seed, owner)}/models/{sftset}"


def training_record(folder):
    """A trained model's folder is known to the DAG by the record its training job writes last
    (w2s.models.TRAINING_RECORD), not as a directory(): the model card written into the folder
    after evaluation (rules/release.smk) is then no new input to anything."""
    return f"{folder}/{TRAINING_RECORD}"


def model_input_for(path):
    """The inputs a job that loads ``path`` declares: a toy base model as its folder, a trained
    model through its training record, a local model folder as its files (an edit reruns every job
    that loads it, and what follows); a hub model none (its revision is in the params).
    """
    if not path.startswith(f"{RESULTS}/"):
        return local_model_files(path)
    if path.startswith(f"{RESULTS}/toy_world/"):
        return [path]
    return [training_record(path)]


def strong_name(wc):
    return exp_cfg(wc)["strong"]


def m_plus_path(wc):
    return trained_model_path(
        wc.exp, wc.seed, wc.weak, registry.m_plus_key(exp_cfg(wc)["iterations"])
    )


def answering_model(wc):
    """(path, config name) of the model answering train_2: at iteration 1 the weak model (weak
    side) and the base strong model with demonstrations (ICL side); at iteration i > 1 iteration
    i-1's weak-ft / icl-ft models, zero-shot."""
    i = int(wc.iter)
    if i > 1:
        path = trained_model_path(wc.exp, wc.seed, wc.weak, f"iter{i - 1}-{wc.side}")
        return path, strong_name(wc)
    if wc.side == "weak":
        return weak_model_path(wc.exp, wc.seed, wc.weak), wc.weak
    return base_model_path(strong_name(wc), wc.seed), strong_name(wc)


def answering_model_name(wc):
    return answering_model(wc)[1]


def eval_model(wc):
    """(path, config name) of the model a method is evaluated with."""
    strong = strong_name(wc)
    if wc.method == "weak_floor":
        return weak_model_path(wc.exp, wc.seed, wc.owner), wc.owner
    if wc.method == "weak_icl":
        return base_model_path(strong, wc.seed), strong
    return trained_model_path(wc.exp, wc.seed, wc.owner, wc.method), strong


def eval_model_name(wc):
    return eval_model(wc)[1]


# ---------------------------------------------------------------- model jobs
ModelJob = namedtuple("ModelJob", "threads resources gpus")


def model_job(role, model_of):
    """threads, resources and gpus of a job that runs the model ``model_of(wc)`` names.

    ``role``: generate | train | pretrain, the block of ``models.<name>.resources`` that applies. Memory and
    runtime grow with each retry (attempt), so a job killed for time or memory gets more next time.
    """

    def spec(wc):
        return model_cfg(model_of(wc))["resources"][role]

    def scaled(key):
        return lambda wc, attempt: spec(wc)[key] * attempt

    def gpus(wc):
        return spec(wc)["gpus"]

    return ModelJob(
        threads=lambda wc: spec(wc)["threads"],
        resources=dict(gpu=gpus, mem_mb=scaled("mem_mb"), runtime=scaled("runtime")),
        gpus=gpus,
    )


TOY_PRETRAIN_JOB = model_job("pretrain", lambda wc: wc.toymodel)
WEAK_TRAIN_JOB = model_job("train", lambda wc: wc.weak)
STRONG_TRAIN_JOB = model_job("train", strong_name)
STRONG_GENERATE_JOB = model_job("generate", strong_name)
ANSWER_JOB = model_job("generate", answering_model_name)
EVAL_JOB = model_job("generate", eval_model_name)


# Which ready job goes first (a priority changes no output). A run's critical path is the toy
# world's pretraining (its longest job: started first, so that with several seeds no core idles at
# the end waiting for one), then the method's own chain (weak SFT, answers on train_2, the filter,
# the iterations' SFT, samples, pairs, preference training); the SFT baselines and the evaluations
# fill the cores it leaves free.
PRETRAIN_PRIORITY = 2
METHOD_PRIORITY = 1


def get_sft_priority(wc):
    """The iterations' SFT first; full weak fine-tuning and the ceiling, which nothing waits on, after."""
    return 0 if wc.sftset in ("full_weak", registry.CEILING["key"]) else METHOD_PRIORITY


# ---------------------------------------------------------------- input functions
TOY_SPLITS = ("train_1", "train_2", "test")


def toy_data_files(seed):
    """The files of a toy dataset's splits: the world's train splits and its graded test set
    (the test split plus toy.fresh_test problems, rule ``build_toy_graded_test``)."""
    world = f"{RESULTS}/toy_world/seed{seed}"
    files = {s: f"{world}/data/{s}.jsonl" for s in TOY_SPLITS}
    return files | {"test": f"{world}/graded/test.jsonl"}


def get_toy_world_settings(wc):
    """The toy block the world's jobs read: all but fresh_test, which is drawn after the world, so
    that a new count rebuilds no tokenizer or model."""
    return canonical({k: v for k, v in config["toy"].items() if k != "fresh_test"})


def get_pretrained_toy_models(wc):
    """Every toy model's settings (name -> models.<name>.toy): their pretraining texts are what the
    fresh test problems avoid."""
    return canonical(
        {m: c["toy"] for m, c in config["models"].items() if c["path"] == "toy"}
    )


def data_of(wc):
    """(dataset, seed) of a ``results/data/{data}`` folder; seed None for sources without one."""
    dataset, *seed = wc.data.split("/")
    return dataset, (seed[0].removeprefix("seed") if seed else None)


def get_source_files(*splits):
    """An input function: the files a data job reads for ``splits``: the toy world's, the local
    files among the dataset's sources (an edit of one reruns the job and everything downstream),
    and the download cache's file of each URL source (rule ``download_dataset_file``). Hub
    datasets are read by the job through the datasets library, which records their commit.
    """

    def get(wc):
        dataset, seed = data_of(wc)
        if _is_toy_dataset(dataset):
            return [f for s, f in toy_data_files(seed).items() if s in splits]
        source = dataset_cfg(dataset)["source"]
        files = []
        for s in splits:
            path = source[s]["path"] if s in source else None
            if path is None or path.startswith("hf://"):
                continue
            files.append(path if is_local_source(path) else str(url_cache_file(path)))
        return files

    return get


def get_url_source(wc):
    """A params function: the URL (and its config key) that ``download_dataset_file`` caches."""
    return URL_SOURCES[wc.download]


def get_split(split):
    """An input function: the normalised ``split`` of the experiment's dataset for this seed."""

    def get(wc):
        return f"{data_dir(exp_cfg(wc)['dataset'], wc.seed)}/{split}.jsonl"

    return get


get_train_1 = get_split("train_1")
get_train_2 = get_split("train_2")
get_train_2_gold = get_split("train_2.gold")


def get_test(wc):
    return f"{data_dir(wc.testset, wc.seed)}/test.jsonl"


def get_weak_base_model(wc):
    return model_input_for(base_model_path(wc.weak, wc.seed))


def get_strong_base_model(wc):
    return model_input_for(base_model_path(strong_name(wc), wc.seed))


def get_answering_model(wc):
    return model_input_for(answering_model(wc)[0])


def get_eval_model(wc):
    return model_input_for(eval_model(wc)[0])


def get_m_plus(wc):
    return model_input_for(m_plus_path(wc))


def get_answer_demonstrations(wc):
    """Only the ICL side of iteration 1 prompts with the demonstrations."""
    if wc.side == "icl" and int(wc.iter) == 1:
        return [f"{run_dir(wc.exp, wc.seed, wc.weak)}/stage1/demonstrations.jsonl"]
    return []


def get_eval_demonstrations(wc):
    if wc.method == "weak_icl":
        return [f"{run_dir(wc.exp, wc.seed, wc.owner)}/stage1/demonstrations.jsonl"]
    return []


# ---------------------------------------------------------------- params functions
def get_dataset_source(*splits):
    """Only the splits a job reads go into its params: a new test source leaves train_1 alone."""

    def get(wc):
        dataset, seed = data_of(wc)
        source = dataset_cfg(dataset)["source"]
        if source == "toy":
            source = {s: {"path": p} for s, p in toy_data_files(seed).items()}
        return canonical({s: source[s] for s in splits if s in source})

    return get


def get_dataset_rule(wc):
    """How the dataset's raw rows become normalised rows: its task, format and field mapping."""
    dataset = dataset_cfg(data_of(wc)[0])
    keys = ("task", "format", "fields", "answer_from")
    return canonical({k: dataset[k] for k in keys if k in dataset})


def sampling_settings(wc, testset=None, **stage2):
    """Decoding settings: the dataset's answer budget and the run's seed (+ stage II sampling)."""
    dataset = testset or exp_cfg(wc)["dataset"]
    return canonical(
        {
            "max_new_tokens": dataset_cfg(dataset)["max_new_tokens"],
            "seed": run_seed(wc),
            **stage2,
        }
    )


def get_answer_sampling(wc):
    return sampling_settings(wc)


def get_stage2_sampling(wc):
    stage2 = exp_cfg(wc)["stage2"]
    return sampling_settings(
        wc, **{k: stage2[k] for k in ("n", "temperature", "top_p")}
    )


def get_eval_sampling(wc):
    return sampling_settings(wc, testset=wc.testset)


def get_demonstration_settings(wc):
    demos = exp_cfg(wc)["demonstrations"]
    return canonical(
        {
            "k": demos["k"],
            "seed": run_seed(wc),
            "ids": demos["ids_by_weak"].get(wc.weak) or demos["ids"],
        }
    )


def get_padding(wc):
    """Stage I padding of this weak model's filtered sets (off unless configured), seeded by the run."""
    stage1 = exp_cfg(wc)["stage1"]
    pad_to = stage1["pad_to_by_weak"].get(wc.weak, stage1["pad_to"])
    return canonical({"pad_to": pad_to, "seed": run_seed(wc)})


def get_pair_rules(wc):
    stage2 = exp_cfg(wc)["stage2"]
    return canonical({k: stage2[k] for k in ("tau", "flip_threshold", "max_pairs")})


def get_engine(model_name_of):
    return lambda wc: slice_of("models", model_name_of(wc), "generation")


def get_sft_settings(model_name_of):
    return lambda wc: slice_of("models", model_name_of(wc), "sft")


def get_preference_settings(wc):
    """The method's trainer, options and training keys; not its label (a new label reruns no training)."""
    entry = exp_cfg(wc)["stage2"]["methods"][wc.pref]
    return canonical({k: v for k, v in entry.items() if k != "label"})


def get_hub_models(wc=None):
    """What ``prefetch`` downloads of the models: every configured hub model, with its revision."""
    return canonical(
        [
            {"key": f"models.{name}.path", "name": m["path"], "revision": m["revision"]}
            for name, m in config["models"].items()
            if is_hub_model(m["path"])
        ]
    )


# ---------------------------------------------------------------- targets
def test_sets(exp):
    return config["experiments"][exp]["test_sets"]


def stage2_methods(exp):
    """The configured stage II methods of an experiment, in config order."""
    return list(config["experiments"][exp]["stage2"]["methods"])


def get_table_methods(exp):
    """The main table's rows in display order (w2s.registry.table_methods)."""
    return registry.table_methods(config["experiments"][exp])


def get_table_roles(exp):
    return registry.table_roles(config["experiments"][exp])


def methods(exp):
    """Every evaluated method of a weak model's run (not the ceiling, which has its own folder)."""
    return [
        m["key"] for m in get_table_methods(exp) if m["key"] != registry.CEILING["key"]
    ]


def has_train_2_gold(exp):
    """The strong ceiling and the train_2 analyses need train_2 gold (OlympicArena has none)."""
    return dataset_cfg(config["experiments"][exp]["dataset"])["train_2_gold"]


def eval_metrics(exp):
    """Every metrics file of an experiment: each seed, weak model, method and test set."""
    cfg = config["experiments"][exp]
    owners = [(weak, methods(exp)) for weak in cfg["weak"]]
    if has_train_2_gold(exp):
        owners.append(("ceiling", [registry.CEILING["key"]]))
    return [
        f"{run_dir(exp, seed, owner)}/eval/{method}/{t}.metrics.json"
        for seed in SEEDS
        for owner, keys in owners
        for method in keys
        for t in cfg["test_sets"]
    ]


def final_outputs():
    # table_outputs (rules/report_common.smk) lists every table, figure and provenance file.
    return [path for exp in config["experiments"] for path in table_outputs(exp)]
