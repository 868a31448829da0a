import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
# What a user's checkout holds that the workflow needs (results, caches and .venv stay behind).
WORKFLOW_FILES = ("Snakefile", "rules", "scripts", "config", "envs", "src", "slurm", "report")

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")


def default_config() -> dict:
    """config/config.yaml validated, every schema default filled: the workflow's own settings (the
    toy world's among them), for tests that call a step with what the workflow would pass it."""
    from w2s.config import read_config_file, validate_config

    return validate_config(read_config_file(ROOT / "config" / "config.yaml"), check_paths=False)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (it lives beside the repository as ../shared/data)")
    return SHARED_DATA


def copy_workflow(dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            shutil.copy2(src, dst / name)
    return dst


def run_snakemake(workdir: Path, *args: str, timeout: int = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the snakemake CLI of this environment in ``workdir``; kill it (and its jobs) on timeout.
    ``env``: variables to set (None as a value removes one)."""
    cmd = ["timeout", "-k", "10", str(timeout), sys.executable, "-m", "snakemake", *args]
    full = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True,
                          env={k: v for k, v in full.items() if v is not None})


@pytest.fixture
def workflow_copy(tmp_path) -> Path:
    return copy_workflow(tmp_path / "wf")


E2E_PRETRAIN_STEPS = 800
# A toy model's nonzero pretraining steps in config/config.yaml (the weak model's are 0).
_PRETRAINED = re.compile(r"(\bpretrain_steps:\s*)[1-9][0-9]*")
# Fresh test problems of the e2e copy: a few, so that the rule runs but evaluations stay short.
E2E_FRESH_TEST = 20
_FRESH_TEST = re.compile(r"(?m)^(  fresh_test:\s*)[0-9]+")


@pytest.fixture(scope="session")
def e2e_run(tmp_path_factory) -> Path:
    """The tiny default run end to end once per test session (several CPU minutes).

    The tests check the mechanics (tables, reruns, cards), not the calibrated numbers (README,
    "What the tiny default shows", measures those): the copy's strong toy model is pretrained
    E2E_PRETRAIN_STEPS instead of the default's (config/config.yaml: the one model pretrained at
    all), minutes of CPU less."""
    workdir = copy_workflow(tmp_path_factory.mktemp("e2e") / "wf")
    config = workdir / "config" / "config.yaml"
    # Any nonzero count: the default's value lives in config/config.yaml only.
    text, n = _PRETRAINED.subn(rf"\g<1>{E2E_PRETRAIN_STEPS}", config.read_text())
    assert n == 1, f"config/config.yaml has {n} pretrained toy models, not 1: update the e2e fixture"
    text, n = _FRESH_TEST.subn(rf"\g<1>{E2E_FRESH_TEST}", text)
    assert n == 1, "config/config.yaml sets no toy.fresh_test: update the e2e fixture"
    config.write_text(text)
    res = run_snakemake(workdir, "--cores", "all", timeout=1500)
    (workdir / "snakemake.stdout").write_text(res.stdout)
    (workdir / "snakemake.stderr").write_text(res.stderr)
    if res.returncode != 0:
        pytest.fail(f"the default workflow failed (rc {res.returncode}); last output:\n{res.stderr[-5000:]}")
    return workdir
