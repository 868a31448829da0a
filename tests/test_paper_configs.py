"""The paper's configs (config/paper/*.yaml) and the single-GPU example, as a cluster user runs them:
`snakemake -n --profile slurm --configfile <file>` on a machine without a GPU must build the whole
DAG (every rule of the method for every weak model, nothing of the toy default), and every job
that runs a model must ask SLURM for the GPUs, memory and time that the config gives that model."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, copy_workflow, run_snakemake
from w2s.config import validate_config

SCHEMA = ROOT / "config" / "schema.yaml"
PAPER = {name: ROOT / "config" / "paper" / f"{name}.yaml" for name in ("gsm8k", "math", "olympicarena")}
SINGLE_GPU = ROOT / "config" / "examples" / "single-gpu.yaml"
ALL_CONFIGS = {**PAPER, "single-gpu": SINGLE_GPU}
SEVEN_PROJECTIONS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
# The rules that run a model, and which of the model's resource blocks applies.
MODEL_RULES = {
    "train_weak_sft": "train", "train_strong_sft": "train", "train_preference": "train",
    "answer_train_2": "generate", "sample_answers": "generate", "evaluate": "generate",
}


def load(path: Path) -> dict:
    """A config as the workflow sees it: validated, defaults filled (hub ids are not checked)."""
    return validate_config(yaml.safe_load(path.read_text()), SCHEMA, check_paths=False)


def parse_dry_run(text: str) -> list[dict]:
    """The jobs a Snakemake run or dry run lists: rule, jobid, wildcards and resources of each."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", text):
        head = re.match(r"(?:local)?rule (\w+):\n", block)
        if not head:
            continue
        jobid = re.search(r"^\s+jobid: (\d+)$", block, flags=re.M)
        job = {"rule": head.group(1), "local": block.startswith("local"), "wildcards": {}, "resources": {},
               "jobid": int(jobid.group(1)) if jobid else None}
        for key in ("wildcards", "resources"):
            m = re.search(rf"^\s+{key}: (.*)$", block, flags=re.M)
            if m:
                job[key] = dict(item.split("=", 1) for item in m.group(1).split(", ") if "=" in item)
        jobs.append(job)
    return jobs


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return copy_workflow(tmp_path_factory.mktemp("paper") / "wf")


_DRY_RUNS: dict[tuple, subprocess.CompletedProcess] = {}


def dry_run(workdir: Path, *configs: Path, targets: tuple[str, ...] = ()) -> list[dict]:
    """`snakemake -n --profile slurm --configfile ...` in the workflow copy (cached per module)."""
    key = (workdir, configs, targets)
    if key not in _DRY_RUNS:
        # Targets first: --configfile takes every word after it.
        _DRY_RUNS[key] = run_snakemake(workdir, *targets, "-n", "--profile", "slurm", "--configfile",
                                       *map(str, configs), timeout=300)
    res = _DRY_RUNS[key]
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    jobs = parse_dry_run(res.stdout)
    assert jobs, "no jobs listed:\n" + res.stdout[-3000:]
    return jobs


def expected_counts(cfg: dict) -> dict[tuple[str, str], int]:
    """(rule, owner) -> number of jobs that METHOD.md asks for, from the config alone."""
    counts: dict[tuple[str, str], int] = {}

    def add(rule, owner, n):
        counts[(rule, owner)] = counts.get((rule, owner), 0) + n

    for exp in cfg["experiments"].values():
        iters, methods, tests = exp["iterations"], exp["stage2"]["methods"], len(exp["test_sets"])
        # Without train_2 gold (OlympicArena) there is no ceiling and no pass@k on train_2.
        gold = cfg["datasets"][exp["dataset"]]["train_2_gold"]
        for weak in exp["weak"]:
            if cfg["models"][weak]["finetune"]:
                add("train_weak_sft", weak, 1)
            add("answer_train_2", weak, 2 * iters)  # weak and ICL side, per iteration
            add("sample_demonstrations", weak, 1)
            add("consistency_filter", weak, iters)
            add("build_full_weak_set", weak, 1)
            add("train_strong_sft", weak, 3 * iters + 1)  # weak/icl/hybrid-ft per iteration + full weak
            add("sample_answers", weak, 1)
            add("mine_pairs", weak, 1)
            add("grade_samples", weak, int(gold))
            add("train_preference", weak, len(methods))
            # weak floor, weak-ICL, full weak FT, 3 per iteration, each stage II method; per test set
            add("evaluate", weak, (3 + 3 * iters + len(methods)) * tests)
        add("build_ceiling_set", "ceiling", int(gold))
        add("train_strong_sft", "ceiling", int(gold))
        add("evaluate", "ceiling", tests * gold)
        add("make_tables", "-", 1)
    return counts


def owner_of(job: dict) -> str:
    wc = job["wildcards"]
    if job["rule"] == "build_ceiling_set":
        return "ceiling"
    return wc.get("weak") or wc.get("owner") or "-"


def model_of(job: dict, cfg: dict) -> str:
    """The configured model a job runs (METHOD.md: who answers, who is trained)."""
    wc, rule = job["wildcards"], job["rule"]
    strong = cfg["experiments"][wc["exp"]]["strong"]
    if rule == "train_weak_sft":
        return wc["weak"]
    if rule == "answer_train_2":
        return wc["weak"] if (wc["iter"], wc["side"]) == ("1", "weak") else strong
    if rule == "evaluate":
        return wc["owner"] if wc["method"] == "weak_floor" else strong
    return strong


# ----------------------------------------------------------------------------- the configs
@pytest.mark.parametrize("name", sorted(ALL_CONFIGS))
def test_config_is_valid(name):
    cfg = load(ALL_CONFIGS[name])
    for model in cfg["models"].values():
        assert model["path"].count("/") == 1, f"{model['path']}: expected a hub id owner/name"


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_setup(name):
    cfg = load(PAPER[name])
    (exp,) = cfg["experiments"].values()
    assert exp["iterations"] == {"gsm8k": 2, "math": 1, "olympicarena": 2}[name]
    # The paper's stage II: DPO (main) and ORPO (variant).
    assert {k: m["trainer"] for k, m in exp["stage2"]["methods"].items()} == {"dpo": "dpo", "orpo": "orpo"}
    assert exp["stage2"]["max_pairs"] == (1 if name == "gsm8k" else 3)
    assert (exp["stage2"]["n"], exp["stage2"]["tau"], exp["stage2"]["flip_threshold"]) == (10, 0.6, 0.8)
    strong = cfg["models"][exp["strong"]]
    # 70B: 8 GPUs for vLLM (tensor parallel 8) and for LoRA training under ZeRO-3, one process per GPU.
    assert strong["path"].endswith("70b-hf") or strong["path"].endswith("70B")
    assert strong["resources"]["generate"]["gpus"] == strong["resources"]["train"]["gpus"] == 8
    assert strong["generation"]["backend"] == "vllm" and strong["generation"]["tensor_parallel_size"] == 8
    for train in (strong["sft"], *exp["stage2"]["methods"].values()):
        assert train["method"] == "lora" and set(train["lora"]["target_modules"]) == SEVEN_PROJECTIONS
        assert train["accelerate_config"] and (ROOT / train["accelerate_config"]).is_file(), train["accelerate_config"]
    for weak in exp["weak"]:
        model = cfg["models"][weak]
        assert model["resources"]["generate"]["gpus"] in (1, 2)
        if model["finetune"]:
            assert set(model["sft"]["lora"]["target_modules"]) == SEVEN_PROJECTIONS
            assert model["resources"]["train"]["gpus"] in (1, 2)


def test_paper_weak_models():
    gsm8k, math, olympic = (load(PAPER[n]) for n in ("gsm8k", "math", "olympicarena"))
    for cfg in (gsm8k, math):
        (exp,) = cfg["experiments"].values()
        assert [cfg["models"][w]["path"] for w in exp["weak"]] == [
            "meta-llama/Llama-2-7b-hf", "google/gemma-2b", "mistralai/Mistral-7B-v0.1"]
        assert all(cfg["models"][w]["finetune"] for w in exp["weak"])
        assert cfg["models"][exp["strong"]]["path"] == "meta-llama/Llama-2-70b-hf"
    (exp,) = olympic["experiments"].values()
    assert [olympic["models"][w]["path"] for w in exp["weak"]] == ["meta-llama/Meta-Llama-3-8B-Instruct"]
    assert not olympic["models"][exp["weak"][0]]["finetune"]
    assert olympic["models"][exp["strong"]]["path"] == "meta-llama/Meta-Llama-3-70B"
    source = olympic["datasets"]["olympicarena"]["source"]
    assert "train_1" not in source
    assert not olympic["datasets"]["olympicarena"]["train_2_gold"]  # hidden answers: no ceiling
    assert gsm8k["datasets"]["gsm8k"]["train_2_gold"] and math["datasets"]["math"]["train_2_gold"]
    assert (source["train_2"]["split"], source["test"]["split"]) == ("test", "val")


def test_gsm8k_and_math_configs_can_be_combined():
    """Same model names with different settings would silently change the other file's jobs."""
    gsm8k, math = (yaml.safe_load(PAPER[n].read_text()) for n in ("gsm8k", "math"))
    assert gsm8k["models"] == math["models"]
    assert set(gsm8k["experiments"]).isdisjoint(math["experiments"])
    assert set(gsm8k["datasets"]).isdisjoint(math["datasets"])


HYPERPARAMETERS = ("learning_rate", "epochs", "gradient_accumulation_steps", "max_length", "lr_scheduler",
                   "warmup_ratio", "weight_decay", "r", "alpha", "dropout", "target_modules", "beta",
                   "gradient_checkpointing", "n", "temperature", "top_p", "tau", "flip_threshold", "max_pairs",
                   "k", "iterations", "max_new_tokens", "seeds", "finetune", "method")


@pytest.mark.parametrize("name", sorted(PAPER))
def test_every_hyperparameter_says_whose_it_is(name):
    """Each hyperparameter line says `# paper` (the paper's value) or `# our choice`."""
    unmarked = []
    for number, line in enumerate(PAPER[name].read_text().splitlines(), 1):
        m = re.match(r"^\s*([a-z_]+):\s*(.*)$", line)
        if m and m.group(1) in HYPERPARAMETERS and not m.group(2).startswith("&") and m.group(2):
            if not re.search(r"#.*\b(paper|our choice)\b", line):
                unmarked.append(f"{number}: {line.strip()}")
    assert not unmarked, "lines without '# paper' or '# our choice':\n" + "\n".join(unmarked)


# ----------------------------------------------------------------------------- the DAGs
@pytest.mark.parametrize("name", sorted(ALL_CONFIGS))
def test_dry_run_builds_the_whole_grid(workdir, name):
    cfg = load(ALL_CONFIGS[name])
    jobs = dry_run(workdir, ALL_CONFIGS[name])
    rules = {j["rule"] for j in jobs}
    # The profile replaces the tiny default's config: nothing of the toy world is scheduled.
    assert not rules & {"build_toy_data", "train_toy_tokenizer", "pretrain_toy_model"}, rules
    assert {j["wildcards"]["exp"] for j in jobs if "exp" in j["wildcards"]} == set(cfg["experiments"])
    counted: dict[tuple[str, str], int] = {}
    for job in jobs:
        counted[(job["rule"], owner_of(job))] = counted.get((job["rule"], owner_of(job)), 0) + 1
    for key, n in expected_counts(cfg).items():
        assert counted.get(key, 0) == n, (key, counted.get(key, 0), n)
    datasets = {d for exp in cfg["experiments"].values() for d in [exp["dataset"], *exp["test_sets"]]}
    assert counted.get(("prepare_train_2", "-"), 0) == counted.get(("prepare_test", "-"), 0) == len(datasets)
    needs_train_1 = any(cfg["models"][w]["finetune"] for e in cfg["experiments"].values() for w in e["weak"])
    assert counted.get(("prepare_train_1", "-"), 0) == int(needs_train_1)


@pytest.mark.parametrize("name", sorted(ALL_CONFIGS))
def test_model_jobs_request_the_configured_gpus(workdir, name):
    cfg = load(ALL_CONFIGS[name])
    jobs = dry_run(workdir, ALL_CONFIGS[name])
    checked = 0
    for job in jobs:
        res = job["resources"]
        if job["rule"] in MODEL_RULES:
            want = cfg["models"][model_of(job, cfg)]["resources"][MODEL_RULES[job["rule"]]]
            got = {"gpu": int(res.get("gpu", 0)), "mem_mb": int(res["mem_mb"]), "runtime": int(res["runtime"])}
            assert got == {"gpu": want["gpus"], "mem_mb": want["mem_mb"], "runtime": want["runtime"]}, job
            assert want["gpus"] >= 1, job  # no model job of a GPU config runs on CPU only
            checked += 1
        else:
            assert int(res.get("gpu", 0)) == 0, job  # data, filter, pairs, grading, tables: CPU only
        # The profile's default: one SLURM task per job holding all its GPUs (no --ntasks-per-gpu).
        if not job["local"]:
            assert res.get("tasks_per_gpu") == "0", job
    assert checked > 10


def test_paper_grid_together(workdir):
    """GSM8K and MATH in one run: the union of both DAGs, the shared models' jobs unchanged."""
    both = dry_run(workdir, PAPER["gsm8k"], PAPER["math"])
    one = dry_run(workdir, PAPER["gsm8k"]) + dry_run(workdir, PAPER["math"])
    count = lambda jobs: sorted((j["rule"], tuple(sorted(j["wildcards"].items()))) for j in jobs if j["rule"] != "all")  # noqa: E731
    assert count(both) == count(one)


def test_one_table_as_target(workdir):
    """`... results/tables/gsm8k.csv` runs that table's DAG only (here: the whole GSM8K grid)."""
    jobs = dry_run(workdir, PAPER["gsm8k"], targets=("results/tables/gsm8k.csv",))
    full = dry_run(workdir, PAPER["gsm8k"])
    assert {j["rule"] for j in jobs} >= set(MODEL_RULES) and "make_tables" in {j["rule"] for j in jobs}
    assert len(jobs) <= len(full)
    one_column = dry_run(workdir, PAPER["gsm8k"], targets=("results/gsm8k/seed0/gemma-2b/eval/dpo/gsm8k.metrics.json",))
    assert {owner_of(j) for j in one_column} <= {"gemma-2b", "-"}, {owner_of(j) for j in one_column}
    assert {j["rule"] for j in one_column} >= {"train_weak_sft", "answer_train_2", "train_strong_sft",
                                               "sample_answers", "mine_pairs", "train_preference", "evaluate"}


def test_seeds_are_independent_runs_over_one_data_preparation(workdir):
    """`seeds: [0, 7]`: every job of the method twice (one run per seed), the real data once."""
    overlay = workdir / "two-seeds.yaml"
    overlay.write_text("seeds: [0, 7]\n")
    one = dry_run(workdir, PAPER["gsm8k"])
    two = dry_run(workdir, PAPER["gsm8k"], overlay)
    count = lambda jobs: {r: sum(j["rule"] == r for j in jobs) for r in {j["rule"] for j in jobs}}  # noqa: E731
    once = {"download_dataset_file", "prepare_train_2", "prepare_test", "prepare_train_1", "make_tables",
            "make_tables_by_accuracy", "make_data_quality_table", "make_passk_table", "plot_vote_confidence", "all"}
    c1, c2 = count(one), count(two)
    assert set(c1) == set(c2)
    for rule in c1:
        assert c2[rule] == (c1[rule] if rule in once else 2 * c1[rule]), (rule, c1[rule], c2[rule])
    assert {j["wildcards"].get("seed") for j in two if j["rule"] not in once} == {"0", "7"}


def test_paper_configs_report_accuracy_under_both_graders_and_math_reads_the_release(workdir):
    """Every paper config tables accuracy under our grader and the paper's own rules; MATH takes the
    release's pinned splits and pads Gemma-2b's and Mistral-7b's iteration-1 sets as released."""
    for name in PAPER:
        jobs = dry_run(workdir, PAPER[name])
        extra = [j for j in jobs if j["rule"] == "make_tables_by_accuracy"]
        assert [j["wildcards"]["amode"] for j in extra] == ["paper"], name
        cfg = validate_config(yaml.safe_load(PAPER[name].read_text()), ROOT / "config" / "schema.yaml",
                              check_paths=False)
        assert cfg["grading"]["accuracy"] == ["equivalence", "paper"], name
    cfg = yaml.safe_load(PAPER["math"].read_text())
    for split in ("train_1", "train_2"):
        assert cfg["datasets"]["math"]["source"][split]["path"] == (
            "https://raw.githubusercontent.com/GAIR-NLP/weak-to-strong-reasoning/"
            f"b0511b211cf1719f503565266dec427120b40270/data/raw/math/{split}.jsonl")
    assert cfg["experiments"]["math"]["stage1"]["pad_to_by_weak"] == {"gemma-2b": 1000, "mistral-7b": 2000}


def test_math_reads_the_releases_pinned_splits(workdir):
    """The dry run shows what is fetched: the release's MATH train_1/train_2 at the pinned commit."""
    cfg = load(ALL_CONFIGS["math"])
    jobs = dry_run(workdir, ALL_CONFIGS["math"])
    downloads = sorted(j["wildcards"]["download"] for j in jobs if j["rule"] == "download_dataset_file")
    release = "raw.githubusercontent.com/GAIR-NLP/weak-to-strong-reasoning/b0511b211cf1719f503565266dec427120b40270"
    assert downloads == [f"{release}/data/raw/math/train_1.jsonl", f"{release}/data/raw/math/train_2.jsonl"]
    for split in ("train_1", "train_2"):
        assert cfg["datasets"]["math"]["source"][split]["path"] == f"https://{release}/data/raw/math/{split}.jsonl"
