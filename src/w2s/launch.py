"""Run a training function in this process, or over several GPUs with ``accelerate launch``.

A SLURM job that got K > 1 GPUs starts one process per GPU: the job's script writes the call
(function name and keyword arguments) to a JSON spec in the work folder and runs
``accelerate launch --num_processes K [--config_file slurm/accelerate/<cfg>.yaml] -m w2s.launch SPEC``.
Every process loads the same spec, so the training code is identical on 1 CPU and 8 GPUs.

    python -m w2s.launch results/.work/.../launch.json      # what each process runs
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

from .io import write_json

log = logging.getLogger(__name__)

FUNCTIONS = ("train_sft", "train_preference")


def _call(fn: str, kwargs: dict) -> dict:
    from . import training

    if fn not in FUNCTIONS:
        raise ValueError(f"unknown training function {fn!r}")
    return getattr(training, fn)(**kwargs)


def run_training(fn: str, kwargs: dict, gpus: int = 0, accelerate_config: str | None = None) -> dict:
    """Call ``w2s.training.<fn>(**kwargs)``; with gpus > 1 through ``accelerate launch``."""
    if gpus <= 1:
        return _call(fn, kwargs)
    # One process per GPU shares the job's CPUs: K processes x all threads would oversubscribe.
    kwargs = {**kwargs, "threads": max(1, int(kwargs.get("threads", 1)) // gpus)}
    work = Path(kwargs["work_dir"])
    work.mkdir(parents=True, exist_ok=True)
    spec = work / "launch.json"
    write_json(spec, {"fn": fn, "kwargs": kwargs})
    accelerate = shutil.which("accelerate") or "accelerate"
    cmd = [accelerate, "launch", "--num_processes", str(gpus)]
    if accelerate_config:
        cmd += ["--config_file", accelerate_config]
    cmd += ["-m", "w2s.launch", str(spec)]
    log.info("launching: %s", " ".join(cmd))
    subprocess.run(cmd, check=True)
    result = work / "launch.result.json"
    return json.loads(result.read_text()) if result.exists() else {}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[0]).read_text())
    result = _call(spec["fn"], spec["kwargs"])
    import os

    if os.environ.get("RANK", "0") == "0":
        write_json(Path(spec["kwargs"]["work_dir"]) / "launch.result.json", result or {})


if __name__ == "__main__":
    main()
