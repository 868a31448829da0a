"""Running a built trainer: CPU threads and memory reuse, training, saving, the returned metrics."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from .checkpoints import CHECKPOINTS, save_final

log = logging.getLogger("w2s.training")

_MALLOC_TUNED = False


def tune_cpu_malloc() -> None:
    """Stop glibc from returning large freed blocks to the OS after every step (CPU jobs only).

    Every training step allocates and frees the same large activation buffers; by default glibc
    serves each from a fresh mmap and unmaps it on free, so every step pays page faults again.
    Not on GPU jobs: there host memory holds checkpoints and loaded shards that should go back.
    """
    global _MALLOC_TUNED
    import sys

    import torch

    if _MALLOC_TUNED or torch.cuda.is_available() or not sys.platform.startswith("linux"):
        return
    if os.environ.get("W2S_MALLOPT", "1") == "0" or any(k.startswith("MALLOC_") for k in os.environ):
        return
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_max = -1, -2, -4  # <malloc.h>
        libc.mallopt(m_mmap_max, 0)
        libc.mallopt(m_trim_threshold, 2**31 - 1)
        libc.mallopt(m_top_pad, 1 << 30)
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        return
    _MALLOC_TUNED = True


def set_threads(threads: int) -> None:
    import torch

    if threads and threads > 0:
        torch.set_num_threads(int(threads))


def run_and_save(trainer, info: dict, output_dir: str, work_dir: str, t0: float, kind: str) -> dict:
    state = info["state"]
    resume = info["resume"]
    if state.is_main_process:
        # This run replaces the model: the previous one (and a model card beside it) must not look
        # current while it trains, nor after it is killed.
        shutil.rmtree(output_dir, ignore_errors=True)
    if resume:
        log.info("resuming %s from %s", kind, resume)
    result = trainer.train(resume_from_checkpoint=resume)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    summary = {
        "kind": kind,
        "method": info["method"],
        "records": info["records"],
        "steps": int(trainer.state.global_step),
        "epochs": float(trainer.state.epoch or 0.0),
        "final_loss": float(losses[-1]) if losses else float(result.training_loss),
        "mean_loss": float(result.training_loss),
        "resumed_from": resume,
        "truncated": info["truncated"],
        "pad_token": info["pad_token"],
        "world_size": int(state.num_processes),
    }
    save_final(trainer, output_dir, info, state, record=training_record(info, summary))
    if state.is_main_process:
        # A finished run's checkpoints could only "resume" it again, and a forced rerun must start over.
        shutil.rmtree(Path(work_dir) / CHECKPOINTS, ignore_errors=True)
        (Path(work_dir) / "fingerprint.json").unlink(missing_ok=True)
    state.wait_for_everyone()
    return {**summary, "seconds": round(time.perf_counter() - t0, 3)}


def training_record(info: dict, summary: dict) -> dict:
    """What ``TRAINING_RECORD`` holds: how the folder was trained (no timings: reruns write the same
    bytes). ``start_model``: the model training began from (a base model, or M_plus for DPO / ORPO);
    ``adapter_base``: the weights a LoRA adapter applies to (None for full weights)."""
    run = info["fingerprint"]
    return {
        **summary,
        "start_model": info["start"],
        "adapter_base": info["base"] if info["method"] == "lora" else None,
        "config": run["cfg"],
        "seed": run["seed"],
        "data_sha256": run["data_sha256"],
    }
