"""Stage I: supervised fine-tuning with TRL's SFTTrainer on prompt/completion records."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from w2s.io import InputError
from w2s.loading import ensure_pad_token, load_causal_lm, load_tokenizer, sync_special_tokens
from w2s.models import check_local_model, is_adapter

from .checkpoints import CHECKPOINTS, fingerprint, open_work_dir, resumable, skip_final_checkpoint_callback
from .run import run_and_save, set_threads, tune_cpu_malloc
from .setup import check_left, check_rows, common_args, lora_config, resolve_cfg, warn_truncated, weights_dtype

log = logging.getLogger("w2s.training")


def build_sft_trainer(model: str, records: list[dict], cfg: dict, work_dir: str, seed: int = 0, callbacks=None):
    """The configured ``SFTTrainer`` and facts about the setup; ``train_sft`` runs it.

    Separate so that tests can look inside (labels, reference model) without training.
    """
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    rows = check_rows(records, ("prompt", "completion"), "SFT record", "Check the filter that made the SFT set.")
    cfg = resolve_cfg(cfg)
    check_local_model(model)
    if is_adapter(model):
        raise InputError(
            f"train_sft: {model} is a PEFT adapter folder; SFT starts from a base model (hub id or full "
            "model folder). Merge the adapter first or give its base model."
        )
    # The config first: under `accelerate launch` it sets up the distributed state (DeepSpeed
    # ZeRO-3 sharded loading included) that loading the model below relies on.
    args = SFTConfig(**common_args(cfg, Path(work_dir) / CHECKPOINTS, seed), completion_only_loss=True, packing=False,
                     dataset_num_proc=None)
    run = fingerprint("sft", model, rows, cfg, seed)
    state, resume = open_work_dir(work_dir, run)

    set_seed(seed)
    tokenizer = load_tokenizer(model, padding_side="right")
    pad = ensure_pad_token(tokenizer, allow_new_token=cfg["method"] == "full")
    net = load_causal_lm(model, weights_dtype(cfg, cfg["method"]))
    if pad == "added":
        net.resize_token_embeddings(len(tokenizer))
    sync_special_tokens(net, tokenizer)
    truncated = warn_truncated(tokenizer, [r["prompt"] + r["completion"] for r in rows], cfg["max_length"], "SFT records")

    trainer = resumable(SFTTrainer)(
        model=net,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora_config(cfg, model) if cfg["method"] == "lora" else None,
        callbacks=[skip_final_checkpoint_callback(), *(callbacks or [])],
    )
    check_left(trainer, len(rows), cfg["max_length"])
    info = {"method": cfg["method"], "pad_token": pad, "truncated": truncated, "records": len(rows),
            "resume": resume, "base": model, "state": state, "start": model, "fingerprint": run}
    return trainer, info


def train_sft(
    model: str,
    records: list[dict],
    output_dir: str,
    cfg: dict,
    work_dir: str,
    seed: int = 0,
    threads: int = 1,
    callbacks: list | None = None,
) -> dict:
    """Fine-tune ``model`` on prompt/completion ``records``; write ``output_dir``; return metrics.

    ``callbacks``: extra ``transformers.TrainerCallback`` objects (progress hooks, tests).
    """
    set_threads(threads)
    tune_cpu_malloc()
    t0 = time.perf_counter()
    trainer, info = build_sft_trainer(model, records, cfg, work_dir, seed, callbacks)
    return run_and_save(trainer, info, output_dir, work_dir, t0, kind="sft")
