"""`snakemake --profile slurm` on a real SLURM.

The fast tests check the shipped profile (slurm/config.yaml) and the conda environments (envs/).
The slow one starts a one-node SLURM on this machine (scripts/local_slurm.sh: munge, slurmctld,
slurmd, a node with two fake GPUs) and runs the tiny default through the shipped profile, adding
only what a cluster without an accounting database needs (LOCAL_CLUSTER_FLAGS). It checks that
sbatch ran every job, that the scheduler got each job's GPUs, CPUs and memory, and that the
tables equal those of the local run.

Which run: W2S_SLURM_CONFIG=default (the default) runs the tiny default and compares with the
session's end-to-end local run (tests/conftest.py `e2e_run`); W2S_SLURM_CONFIG=small runs a
smaller overlay (SMALL_OVERLAY: fewer jobs, same models) and its own local run. The SLURM run
starts from the local run's toy world (results/toy_world: synthetic data, tokenizer, the two
"pretrained" base models, as a cluster run starts from downloaded hub models), which saves the
strong model's minutes of CPU pretraining; W2S_SLURM_REUSE_TOY_WORLD=0 builds it through SLURM too.
"""

import csv
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from tests.conftest import ROOT, WORKFLOW_FILES, copy_workflow, run_snakemake
from tests.test_paper_configs import parse_dry_run

PROFILE = ROOT / "slurm" / "config.yaml"
LOCAL_SLURM = ROOT / "scripts" / "local_slurm.sh"
# What the local cluster needs beyond the shipped profile: it has no slurmdbd, so `sacct` (the
# plugin's default status command) is disabled and the plugin would wait forever; `squeue` sees
# finished jobs for an hour (MinJobAge). Status checks from 2 s instead of 40 s per job. An
# account cannot be validated without slurmdbd.
LOCAL_CLUSTER_FLAGS = ("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
                       "--slurm-no-account")
# The weak model's generation asks for the node's two fake GPUs, its training for one. The
# transformers backend and single-process training do not use the count, so the tables must equal
# the CPU run's; the scheduler must still allocate them as one task holding both GPUs.
GPU_OVERLAY = """\
models:
  toy-weak:
    resources:
      generate: {gpus: 2}
      train: {gpus: 1}
"""
# Fewer jobs, same models: one iteration, DPO only.
SMALL_OVERLAY = """\
experiments:
  toy:
    iterations: 1
    stage2:
      methods:
        orpo: null
"""
MODE = os.environ.get("W2S_SLURM_CONFIG", "default")
REUSE_TOY_WORLD = os.environ.get("W2S_SLURM_REUSE_TOY_WORLD", "1") != "0"
SUBMITTED = re.compile(r"^Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+)\)\.$", re.M)


# ----------------------------------------------------------------------------- the profile
def profile() -> dict:
    return yaml.safe_load(PROFILE.read_text())


def test_profile_is_right_for_a_real_cluster():
    p = profile()
    assert p["executor"] == "slurm"
    assert p["jobs"] >= 1 and p["retries"] >= 1 and p["rerun-incomplete"] is True and p["latency-wait"] >= 10
    assert p["slurm-requeue"] is True  # preempted jobs go back to the queue
    assert p["replace-workflow-config"] is True  # a paper config is the whole config
    defaults = p["default-resources"]
    # `tasks` in default resources becomes --ntasks-per-gpu for GPU jobs (DESIGN.md).
    assert "tasks" not in defaults and defaults["tasks_per_gpu"] == 0
    # Left to the user: a guess would be wrong on most clusters.
    assert "slurm_account" not in defaults and "slurm_partition" not in defaults
    # Test-only settings must not leak into the shipped profile: a real cluster has sacct.
    assert not {"slurm-status-command", "slurm-no-account", "slurm-init-seconds-before-status-checks"} & set(p)


def test_profile_is_the_only_one():
    """`profiles/default` would be applied silently and replace whole keys of the profile."""
    assert not (ROOT / "profiles" / "default").exists()
    assert not (ROOT / "slurm" / "default").exists()


def test_sbatch_call_of_an_8_gpu_job():
    """The plugin's own sbatch line for a 70B training job under the profile's defaults: one task
    holding 8 GPUs and `threads` CPUs, memory and time from the config."""
    submit_string = pytest.importorskip("snakemake_executor_plugin_slurm.submit_string")
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    class Resources(dict):
        __getattr__ = dict.get

    class Job:
        threads = 32
        resources = Resources({**profile()["default-resources"], "gpu": 8, "mem_mb": 384000, "runtime": 720})

    params = {"run_uuid": "u", "slurm_logfile": "l.log", "comment_str": "rule_x", "account": "", "partition": "",
              "workdir": "."}
    # What the plugin's run_job sends: the command line plus the GPU request.
    call = submit_string.get_submit_command(Job(), params) + set_gres_string(Job())
    assert "--gpus=8" in call and "--cpus-per-task=32" in call, call
    assert "--ntasks-per-gpu" not in call, call  # would ask for 8 x 32 CPUs
    assert re.search(r"--mem 384000\b", call) and re.search(r"-t '?720'?", call), call


# ----------------------------------------------------------------------------- conda environments
def pyproject_ranges() -> dict[str, Requirement]:
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {Requirement(d).name.lower(): Requirement(d) for d in deps}


def env_pins(path: Path) -> dict[str, Requirement]:
    deps = yaml.safe_load(path.read_text())["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    return {Requirement(line).name.lower(): Requirement(line) for line in pip if not line.startswith("-")}


ENVS = sorted((ROOT / "envs").glob("*.yaml"))


def test_every_rule_env_exists():
    used = set()
    for smk in (ROOT / "rules").glob("*.smk"):
        used |= set(re.findall(r'"\.\./(envs/[\w.-]+\.yaml)"', smk.read_text()))
    assert used, "no conda: directives found in rules/*.smk"
    assert used <= {f"envs/{p.name}" for p in ENVS}, used


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.stem)
def test_env_is_pinned_and_consistent_with_pyproject(env):
    text = env.read_text()
    assert re.search(r"^\s*- python=3\.1[1-9]\s*$", text, flags=re.M), "pin the Python version"
    pins = env_pins(env)
    ranges = pyproject_ranges()
    for name, req in pins.items():
        spec = list(req.specifier)
        assert len(spec) == 1 and spec[0].operator == "==", f"{env.name}: {req} is not pinned"
        if name in ranges:
            assert ranges[name].specifier.contains(spec[0].version), f"{env.name}: {req} outside pyproject's {ranges[name]}"
    # w2s itself: installed by the post-deploy script without dependencies, not from the pip list
    # (a relative path there resolves against .snakemake/conda/, not the repository).
    assert not any(line.strip().startswith("- -e") for line in text.splitlines()), "use the post-deploy script"
    deploy = env.with_name(env.stem + ".post-deploy.sh")
    assert deploy.is_file() and "--no-deps" in deploy.read_text(), deploy


def test_envs_agree_on_shared_pins():
    """A package pinned in two environments has the same version in both (torch aside: vLLM pins
    its own), so the CPU-measured combination is what runs."""
    seen: dict[str, tuple[str, str]] = {}
    for env in ENVS:
        for name, req in env_pins(env).items():
            if name == "torch":
                continue
            if name in seen:
                assert str(req.specifier) == seen[name][1], (name, env.name, seen[name])
            seen[name] = (env.name, str(req.specifier))


# ----------------------------------------------------------------------------- a real SLURM
@pytest.fixture(scope="session")
def local_slurm():
    """The one-node cluster; stopped at the end only if this session started it."""
    res = subprocess.run([str(LOCAL_SLURM), "start"], capture_output=True, text=True, timeout=900)
    if res.returncode == 77:
        pytest.skip(f"no local SLURM possible here: {res.stderr.strip()}")
    assert res.returncode == 0, f"scripts/local_slurm.sh start failed:\n{res.stdout}\n{res.stderr}"
    yield
    if res.stdout.strip() == "started":
        subprocess.run([str(LOCAL_SLURM), "stop"], capture_output=True, text=True, timeout=120)


def run_configs(workdir: Path) -> list[str]:
    """config/config.yaml plus this mode's overlays (written into the workflow copy)."""
    configs = ["config/config.yaml"]
    overlays = {"gpus.yaml": GPU_OVERLAY, **({"small.yaml": SMALL_OVERLAY} if MODE == "small" else {})}
    for name, text in overlays.items():
        (workdir / name).write_text(text)
        configs.append(name)
    return configs


def finished(workdir: Path, res: subprocess.CompletedProcess, what: str) -> Path:
    (workdir / "snakemake.stdout").write_text(res.stdout)
    (workdir / "snakemake.stderr").write_text(res.stderr)
    if res.returncode != 0:
        pytest.fail(f"{what} failed (rc {res.returncode}); last output:\n{res.stderr[-6000:]}")
    return workdir


@pytest.fixture(scope="session")
def slurm_run(local_slurm, reference_run, tmp_path_factory) -> Path:
    # The reference run's own copy of the workflow and config: a checkout edited between the two
    # runs must not make them differ.
    workdir = tmp_path_factory.mktemp("slurm") / "wf"
    workdir.mkdir()
    for name in WORKFLOW_FILES:
        src = reference_run / name
        if src.is_dir():
            shutil.copytree(src, workdir / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            shutil.copy2(src, workdir / name)
    if REUSE_TOY_WORLD:
        # copytree keeps the files' times: Snakemake sees the toy world as up to date.
        shutil.copytree(reference_run / "results" / "toy_world", workdir / "results" / "toy_world")
    res = run_snakemake(workdir, "--profile", "slurm", *LOCAL_CLUSTER_FLAGS, "--configfile", *run_configs(workdir),
                        timeout=2400)
    return finished(workdir, res, "the workflow through the slurm profile")


@pytest.fixture(scope="session")
def reference_run(request, tmp_path_factory) -> Path:
    """The same workflow run locally (no SLURM)."""
    if MODE == "default":
        return request.getfixturevalue("e2e_run")
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm-reference") / "wf")
    res = run_snakemake(workdir, "--cores", "all", "--configfile", *run_configs(workdir), timeout=1800)
    return finished(workdir, res, "the local reference run")


def scontrol(job_id: str) -> dict[str, str]:
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return dict(item.split("=", 1) for item in out.stdout.split() if "=" in item)


def job_stats(log: str) -> dict[str, int]:
    """The 'Job stats' table Snakemake prints when it starts: rule -> number of jobs."""
    table = log.split("Job stats:", 1)[1].splitlines()[3:]
    stats = {}
    for line in table:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not m:
            break
        stats[m.group(1)] = int(m.group(2))
    return stats


def run_jobs(workdir: Path) -> tuple[dict[str, int], list[dict], list[dict]]:
    """What the run did: its job stats, the jobs it ran itself (local rules), and the jobs it
    submitted, each as its SLURM job printed it (rule, wildcards, resources) + slurm_id and log."""
    log = (workdir / "snakemake.stderr").read_text()
    stats = job_stats(log)
    # The main process prints only the jobs it runs itself; a SLURM job's log holds its own.
    local = [j for j in parse_dry_run(log) if j["local"]]
    submitted = []
    for jobid, slurm_id, slurm_log in SUBMITTED.findall(log):
        assert int(jobid) not in {j["jobid"] for j in submitted}, f"job {jobid} submitted twice (a retry?)"
        (job,) = parse_dry_run(Path(slurm_log).read_text())[:1] or [None]
        assert job and f"/rule_{job['rule']}/" in slurm_log, (jobid, slurm_log)
        submitted.append({**job, "jobid": int(jobid), "slurm_id": slurm_id, "slurm_log": slurm_log})
    return stats, local, submitted


@pytest.mark.slow
@pytest.mark.slurm
def test_every_job_went_through_sbatch(slurm_run):
    stats, local, submitted = run_jobs(slurm_run)
    assert stats["total"] == len(local) + len(submitted), (stats, [j["rule"] for j in local])
    assert len(submitted) >= 20, len(submitted)
    # Every model job is a SLURM job (cheap rules may be local rules of the workflow).
    assert {"train_weak_sft", "answer_train_2", "train_strong_sft", "sample_answers", "train_preference",
            "evaluate"} <= {j["rule"] for j in submitted}
    assert "all" in {j["rule"] for j in local}
    for job in submitted:
        assert scontrol(job["slurm_id"])["JobState"] == "COMPLETED", job
        assert Path(job["slurm_log"]).is_relative_to(slurm_run / ".snakemake" / "slurm_logs"), job


@pytest.mark.slow
@pytest.mark.slurm
def test_scheduler_got_each_jobs_gpus_cpus_and_memory(slurm_run):
    _, _, submitted = run_jobs(slurm_run)
    gpus_seen = set()
    for job in submitted:
        info = scontrol(job["slurm_id"])
        gpus = int(job["resources"].get("gpu", 0))
        gpus_seen.add(gpus)
        # One task per job, holding all its GPUs (not one task per GPU), `threads` CPUs (1 here).
        assert info["NumTasks"] == "1" and info["NumCPUs"] == "1", (job["rule"], info)
        assert info.get("TresPerJob", "") == (f"gres:gpu:{gpus}" if gpus else ""), (job["rule"], info)
        assert info["MinMemoryNode"] == f"{job['resources']['mem_mb']}M", (job["rule"], info)
    assert gpus_seen == {0, 1, 2}, gpus_seen  # the overlay's GPU requests reached the scheduler
    weak_floor = [j for j in submitted if j["rule"] == "evaluate" and j["wildcards"].get("method") == "weak_floor"]
    assert weak_floor and all(j["resources"]["gpu"] == "2" for j in weak_floor), weak_floor


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
@pytest.mark.slurm
def test_tables_equal_the_local_run(slurm_run, reference_run):
    ours = sorted(p.name for p in (slurm_run / "results" / "tables").glob("*.csv"))
    theirs = sorted(p.name for p in (reference_run / "results" / "tables").glob("*.csv"))
    assert ours and ours == theirs
    for name in ours:
        a = read_csv(slurm_run / "results" / "tables" / name)
        b = read_csv(reference_run / "results" / "tables" / name)
        assert a == b, name
