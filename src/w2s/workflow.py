"""What every job script does first: log to the rule's log file, use the rule's threads.

Scripts stay thin: ``job = w2s.workflow.start(snakemake)`` then call into the package.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("w2s")


@dataclass
class Job:
    threads: int
    log_path: str | None
    started: float


def _report_input_errors(console) -> None:
    """Bad input ends the job with its one-paragraph message, on the console and in the log,
    instead of a traceback from deep inside a library."""
    from .config import ConfigError
    from .io import InputError

    default_hook = sys.excepthook

    def hook(kind, value, tb):
        if issubclass(kind, (InputError, ConfigError)):
            message = f"error: {value}\n"
            sys.stderr.write(message)
            sys.stderr.flush()
            if console is not None:
                console.write(message)
                console.flush()
        else:
            default_hook(kind, value, tb)

    sys.excepthook = hook


def _redirect_to_log(path: str):
    """Send fd 1 and 2 (Python, tqdm, C libraries alike) to the job's log file; return the console."""
    console = os.fdopen(os.dup(2), "w")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    return console


def start(smk, uses_torch: bool = False, hub_online: bool = False) -> Job:
    """Set up a Snakemake ``script:`` job: logging, threads, quiet libraries, the hub offline.

    The hub is offline for jobs (w2s.hub) unless ``hub_online`` (``prefetch``) or the environment
    says otherwise; a job whose ``params.model`` is not in the cache stops here, before torch
    loads, with the message naming the config key, the cache and ``snakemake prefetch``.
    """
    log_path = smk.log[0] if len(smk.log) else None
    console = _redirect_to_log(log_path) if log_path else None
    _report_input_errors(console)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr, force=True)
    threads = max(1, int(smk.threads))
    log.info("job %s starting with %d thread(s)", getattr(smk, "rule", "?"), threads)
    # Snakemake schedules `threads` cores for this job: never use more, or parallel jobs thrash.
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from . import hub

    if hub_online:
        hub.go_online()
    else:
        hub.set_job_defaults()
    hub.use_config(getattr(smk, "config", None))
    model = getattr(smk.params, "model", None)
    if isinstance(model, str):
        hub.require_model(model)
    if uses_torch:  # importing torch costs seconds: analysis jobs skip it
        import torch

        torch.set_num_threads(threads)
        # The kernels decide the rounding, so the files (schema: cpu_kernels).
        log.info("job %s: torch CPU kernels %s", getattr(smk, "rule", "?"), torch.backends.cpu.get_cpu_capability())
    log.info("job %s started with %d thread(s)", getattr(smk, "rule", "?"), threads)
    return Job(threads=threads, log_path=log_path, started=time.time())


def wc(smk, name: str, default=None):
    return getattr(smk.wildcards, name, default)


def job_engine(engine: dict, gpus: int) -> dict:
    """Engine settings for a job: vLLM's tensor parallelism spans exactly the job's GPUs."""
    engine = dict(engine)
    if gpus > 0 and engine.get("backend") == "vllm":
        engine["tensor_parallel_size"] = gpus
    return engine
