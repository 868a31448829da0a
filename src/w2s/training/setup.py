"""The training config (checked against config/schema.yaml), the training rows, and the TRL
arguments every trainer shares."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from w2s.config import ConfigError, stage2_method_problems, validated
from w2s.io import InputError

log = logging.getLogger("w2s.training")

# The Trainer deletes the older checkpoint only after the newer one is complete: one is enough.
SAVE_TOTAL_LIMIT = 1


def resolve_cfg(cfg: dict | None, trainer: str | None = None) -> dict:
    """``cfg`` checked against config/schema.yaml with every default filled (Python holds none).

    Without ``trainer``: a training block (``$defs.training``). With it: a stage II method
    (``$defs.stage2_method``: the training keys plus that trainer's options). Raises ConfigError.
    """
    if trainer is None:
        out = validated("training", cfg, "training config")
    else:
        out = validated("stage2_method", {**(cfg or {}), "trainer": trainer}, f"{trainer} training config")
        problems = stage2_method_problems(trainer, out, f"{trainer} training config")
        if problems:
            raise ConfigError("\n".join(problems))
    if out["max_steps"] == 0 or out["max_steps"] < -1:
        raise ConfigError(f"training config: max_steps must be -1 (use epochs) or positive, got {out['max_steps']!r}.")
    if not out["warmup_ratio"] < 1:
        raise ConfigError(f"training config: warmup_ratio must be in [0, 1), got {out['warmup_ratio']!r}.")
    return out


def check_rows(rows: Sequence[dict], fields: Sequence[str], what: str, hint: str) -> list[dict]:
    """Reject empty input and rows whose fields are not strings, naming the row."""
    if rows is None or len(rows) == 0:
        raise InputError(f"no {what} to train on: the list is empty. {hint}")
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InputError(f"{what} {i}: expected a dict with {', '.join(fields)}, got {type(row).__name__}.")
        for f in fields:
            if f not in row:
                raise InputError(f"{what} {i}: missing field '{f}' (fields present: {', '.join(sorted(row)) or 'none'}).")
            if not isinstance(row[f], str):
                raise InputError(f"{what} {i}: field '{f}' must be a string, got {type(row[f]).__name__}.")
        if not row[fields[0]]:
            raise InputError(f"{what} {i}: empty '{fields[0]}'.")
        out.append({f: row[f] for f in fields})
    return out


def weights_dtype(cfg: dict, method: str) -> str:
    """The dtype to load trainable weights in (see "dtype" in the module docstring)."""
    if cfg["dtype"] == "float16" and method == "full":
        return "float32"
    return cfg["dtype"]


def lora_config(cfg: dict, base: str | None = None):
    """PEFT's LoraConfig; ``base``: the model the adapter applies to, whose pinned hub revision
    (``owner/name@revision``) PEFT then records in adapter_config.json."""
    from peft import LoraConfig

    from w2s.models import split_revision

    lora = cfg["lora"]
    return LoraConfig(
        r=int(lora["r"]),
        lora_alpha=int(lora["alpha"]),
        lora_dropout=float(lora["dropout"]),
        target_modules=list(lora["target_modules"]),
        bias="none",
        task_type="CAUSAL_LM",
        revision=split_revision(base)[1] if base else None,
    )


def common_args(cfg: dict, ckpt_dir: Path, seed: int) -> dict:
    """TrainingArguments shared by SFT, DPO and ORPO, chosen for short CPU jobs and for resuming."""
    import torch

    return dict(
        output_dir=str(ckpt_dir),
        learning_rate=float(cfg["learning_rate"]),
        num_train_epochs=float(cfg["epochs"]),
        max_steps=int(cfg["max_steps"]),
        per_device_train_batch_size=int(cfg["batch_size"]),
        gradient_accumulation_steps=int(cfg["gradient_accumulation_steps"]),
        lr_scheduler_type=cfg["lr_scheduler"],
        # transformers 5 folds warmup_ratio into warmup_steps: a float in [0, 1) is a ratio.
        warmup_steps=float(cfg["warmup_ratio"]),
        weight_decay=float(cfg["weight_decay"]),
        logging_steps=int(cfg["logging_steps"]),
        save_strategy="steps",
        save_steps=int(cfg["save_steps"]),
        # The Trainer deletes the older checkpoint only after the newer one is complete.
        save_total_limit=SAVE_TOTAL_LIMIT,
        eval_strategy="no",
        report_to="none",
        disable_tqdm=False,
        seed=int(seed),
        data_seed=int(seed),
        bf16=cfg["dtype"] == "bfloat16",
        fp16=cfg["dtype"] == "float16",
        gradient_checkpointing=bool(cfg["gradient_checkpointing"]),
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        max_length=cfg["max_length"],
    )


def count_truncated(tokenizer, texts: list[str], max_length: int | None) -> int:
    if max_length is None:
        return 0
    lengths = [len(ids) + 1 for ids in tokenizer(texts)["input_ids"]]  # + 1: the EOS TRL appends
    return sum(n > max_length for n in lengths)


def warn_truncated(tokenizer, texts: list[str], max_length: int | None, what: str) -> int:
    """How many of ``texts`` are longer than ``max_length`` tokens (TRL truncates them); logged."""
    truncated = count_truncated(tokenizer, texts, max_length)
    if truncated:
        log.warning("%d of %d %s are longer than max_length=%s tokens and are truncated.", truncated, len(texts), what,
                    max_length)
    return truncated


def check_left(trainer, n_rows: int, max_length: int | None) -> None:
    """TRL drops rows whose prompt alone fills max_length; with none left it would fail obscurely."""
    left = len(trainer.train_dataset)
    if left == 0:
        raise InputError(
            f"all {n_rows} training rows were dropped: every prompt alone reaches max_length={max_length} "
            "tokens. Raise max_length in the training config."
        )
    if left < n_rows:
        log.warning("%d of %d rows dropped: their prompt alone reaches max_length=%s.", n_rows - left, n_rows, max_length)
