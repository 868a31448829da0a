"""Stage II: a TRL preference trainer (w2s.registry.PREFERENCE_TRAINERS) from M_plus on the pairs."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from w2s import registry
from w2s.io import InputError
from w2s.loading import ensure_pad_token, load_causal_lm, load_tokenizer, sync_special_tokens, tokenizer_source
from w2s.models import check_local_model, resolve_model

from .checkpoints import CHECKPOINTS, fingerprint, open_work_dir, resumable, skip_final_checkpoint_callback
from .run import run_and_save, set_threads, tune_cpu_malloc
from .setup import check_left, check_rows, common_args, lora_config, resolve_cfg, warn_truncated, weights_dtype

log = logging.getLogger("w2s.training")


def build_preference_trainer(
    trainer: str, model: str, pairs: list[dict], cfg: dict, work_dir: str, seed: int = 0, callbacks=None
):
    """The configured TRL preference trainer (``trainer``: a w2s.registry.PREFERENCE_TRAINERS name)
    starting from M_plus (``model``), and setup facts. ``cfg``: training keys plus the trainer's
    options, which go to its TRL config class unchanged."""
    from datasets import Dataset
    from transformers import set_seed

    if trainer not in registry.PREFERENCE_TRAINERS:
        raise InputError(f"preference trainer must be one of {', '.join(registry.PREFERENCE_TRAINERS)}, got {trainer!r}.")
    spec = registry.PREFERENCE_TRAINERS[trainer]
    rows = check_rows(pairs, ("prompt", "chosen", "rejected"), "preference pair",
                      "Pair mining found no usable question (confidence threshold, too-easy questions).")
    cfg = resolve_cfg(cfg, trainer)
    check_local_model(model)
    ref = resolve_model(model)
    if ref.adapter is not None and cfg["method"] == "full":
        log.warning("%s is a LoRA adapter: preference training continues that adapter (cfg method 'full' ignored).", model)
    method_used = "lora" if ref.adapter is not None else cfg["method"]
    options = {k: cfg[k] for k in spec.options if k in cfg}
    # The config first: under `accelerate launch` it sets up the distributed state (see sft.py).
    args = registry.load(spec.config)(**common_args(cfg, Path(work_dir) / CHECKPOINTS, seed), **options,
                                      dataset_num_proc=None)
    run = fingerprint(trainer, model, rows, {**cfg, "method": method_used}, seed)
    state, resume = open_work_dir(work_dir, run)

    set_seed(seed)
    tokenizer = load_tokenizer(tokenizer_source(model), padding_side="right")
    # No new pad token here: TRL would load DPO's full-model reference from disk with the old
    # vocabulary. The preference collators mask padding by position, so EOS as pad is harmless, and
    # an M_plus written by train_sft already carries its pad token.
    pad = ensure_pad_token(tokenizer, allow_new_token=False)
    net, peft_config = _policy(ref, cfg, method_used)
    sync_special_tokens(net, tokenizer)
    truncated = max(warn_truncated(tokenizer, [r["prompt"] + r[side] for r in rows], cfg["max_length"], f"pairs ({side})")
                    for side in ("chosen", "rejected"))

    preference = resumable(registry.load(spec.trainer))(
        model=net,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[skip_final_checkpoint_callback(), *(callbacks or [])],
    )
    check_left(preference, len(rows), cfg["max_length"])
    info = {"method": method_used, "preference": trainer, "options": options, "pad_token": pad, "truncated": truncated,
            "records": len(rows), "resume": resume, "base": ref.base if ref.adapter else model, "state": state,
            "start": model, "fingerprint": run}
    return preference, info


def _policy(ref, cfg: dict, method_used: str):
    """The model to train and its PEFT config: M_plus's own adapter continued (trainable), a fresh
    adapter on a full M_plus (``method: lora``), or all of a full M_plus's weights."""
    net = load_causal_lm(ref.base, weights_dtype(cfg, method_used))
    if ref.adapter is not None:
        from peft import PeftModel

        # is_trainable: PEFT loads adapters frozen for inference by default.
        return PeftModel.from_pretrained(net, ref.adapter, is_trainable=True), None
    return net, lora_config(cfg, ref.base) if cfg["method"] == "lora" else None


def train_preference(
    trainer: str,
    model: str,
    pairs: list[dict],
    output_dir: str,
    cfg: dict,
    work_dir: str,
    seed: int = 0,
    threads: int = 1,
    callbacks: list | None = None,
) -> dict:
    """A preference trainer (dpo, orpo, cpo: w2s.registry) from M_plus (``model``: full model folder
    or LoRA adapter folder) on ``pairs``."""
    set_threads(threads)
    tune_cpu_malloc()
    t0 = time.perf_counter()
    preference, info = build_preference_trainer(trainer, model, pairs, cfg, work_dir, seed, callbacks)
    return run_and_save(preference, info, output_dir, work_dir, t0, kind=trainer)
