"""Training with TRL: supervised fine-tuning (stage I) and preference optimisation (stage II).

Public API
----------
``train_sft(model, records, output_dir, cfg, work_dir, seed=0, threads=1) -> dict``
    TRL ``SFTTrainer`` on prompt/completion records; the loss covers the completion (and the EOS
    that TRL appends) only. ``cfg["method"]`` is ``"full"`` (save_pretrained model + tokenizer) or
    ``"lora"`` (a PEFT adapter folder whose ``base_model_name_or_path`` is ``model`` exactly as
    given, plus the tokenizer).
``train_preference(method, model, pairs, output_dir, cfg, work_dir, seed=0, threads=1) -> dict``
    ``"dpo"`` (``trl.DPOTrainer``) or ``"orpo"`` (``trl.experimental.orpo.ORPOTrainer``) on
    prompt/chosen/rejected pairs, starting from M_plus. When M_plus is a PEFT adapter folder, that
    adapter keeps training, and the DPO reference is M_plus itself: TRL copies the loaded adapter
    into a frozen adapter named ``ref`` and computes the reference log-probabilities with it
    (``tests/test_training.py`` checks this against M_plus and against the bare base model). When
    M_plus is a full model, ``method: lora`` puts a fresh adapter on it (the reference is then
    M_plus with the adapter disabled) and ``method: full`` trains all weights (TRL loads a second
    copy of M_plus as the reference).
``load_for_inference(model, dtype="float32") -> (model, tokenizer)``
    Resolves an adapter folder with ``w2s.models.resolve_model`` and merges the LoRA weights, so
    generation code sees one plain model. The tokenizer pads on the left (batched generation).

Config keys (``cfg``; missing keys take the values of ``DEFAULTS`` / ``LORA_DEFAULTS``)
    method, lora {r, alpha, dropout, target_modules}, learning_rate, epochs, max_steps (-1: use
    epochs), batch_size (per device), gradient_accumulation_steps, max_length, lr_scheduler,
    warmup_ratio, weight_decay, save_steps, save_total_limit, logging_steps, dtype, gradient_checkpointing;
    preference training adds beta. dtype: "float32"; "bfloat16" (weights loaded in bf16 and bf16
    autocast; under ZeRO-3 DeepSpeed keeps fp32 master weights); "float16" (GPU only: fp16 autocast
    with loss scaling; LoRA loads the frozen base in fp16, full fine-tuning keeps fp32 weights
    because the gradient scaler cannot unscale fp16 gradients).

Behaviour worth knowing
    * Outputs appear complete or not at all: every process saves into ``.<name>.partial`` beside
      ``output_dir`` and the main process renames it at the end.
    * Checkpoints go to ``<work_dir>/checkpoints`` (outside the declared output, which Snakemake
      deletes when a job fails). A rerun resumes from the newest *complete* checkpoint (one that
      has ``trainer_state.json``, which the Trainer writes last); a half-written one is removed.
      ``<work_dir>/fingerprint.json`` records the model, data, config and seed of the run that made
      the checkpoints; if any differs, the stale checkpoints are removed and training starts anew.
      After a successful run the checkpoints are removed (they would only resume a finished run).
    * Pad token: kept if the tokenizer has one distinct from EOS; else its ``unk`` token; else a
      reserved pad-like special token already in the vocabulary (e.g. Llama 3.1's
      ``<|finetune_right_pad_id|>``); else, for full fine-tuning, a new ``<pad>`` token (the
      embeddings grow by one row and are saved with the model); else (LoRA, where a new row could
      not be saved in the adapter) EOS, with a warning. The padded positions are excluded from the
      loss by TRL's collators through the attention mask, not by token id, so the EOS at the end of
      each completion is learned even then; a test checks that a trained model stops.
    * ``max_length`` is always set on the TRL config (TRL's own default of 1024 truncates
      silently); the number of records longer than it is logged and returned as ``truncated``.
    * No evaluation, no reporting integrations (``report_to="none"``), tqdm progress bars on,
      ``dataloader_num_workers=0``, gradient checkpointing off unless asked (TRL turns it on by
      default, which costs ~20% on CPU for nothing), bf16 only when ``dtype`` is ``bfloat16``
      (TRL defaults to bf16 mixed precision, which would silently run the CPU tests in bf16).
    * CPU speed: without a GPU, training keeps freed memory for reuse instead of unmapping it after
      every step, through glibc's ``mallopt`` (the run-time form of ``MALLOC_MMAP_MAX_=0
      MALLOC_TRIM_THRESHOLD_=... MALLOC_TOP_PAD_=...``; DESIGN.md measured 3x with a 49k
      vocabulary, ~6% CPU time on the toy strong model). Skipped when the job sets any ``MALLOC_``
      variable itself, or with ``W2S_MALLOPT=0``.

Multi-GPU (one process per GPU)
    The functions are unchanged under ``accelerate launch``; Trainer reads the distributed setup
    from the environment that the launcher sets. In the workflow, ``w2s.launch.run_training``
    writes the call to a JSON spec and starts it (training config key ``accelerate_config``)::

        accelerate launch --config_file slurm/accelerate/zero3.yaml --num_processes 8 \\
            -m w2s.launch results/.../launch.json     # DeepSpeed ZeRO-3 (pip install deepspeed)
        accelerate launch --config_file slurm/accelerate/fsdp.yaml --num_processes 8 \\
            -m w2s.launch results/.../launch.json     # PyTorch FSDP2, no extra package

    Any script that calls ``train_sft`` / ``train_preference`` can be launched the same way. Use
    ``dtype: bfloat16`` with these configs (their mixed_precision is bf16). ``--num_processes``
    overrides the file (the GPUs of the SLURM job, e.g. ``$SLURM_GPUS_ON_NODE``); for several nodes
    add ``--num_machines``, ``--machine_rank``, ``--main_process_ip`` (``srun`` one launcher per
    node). Every process must call the training function with the same arguments; only the main
    process writes files. The model is loaded after the TRL config is built, so ZeRO-3
    (``zero3_init_flag``) shards it while loading, and FSDP (``cpu_ram_efficient_loading``) reads
    it on rank 0 only (host memory for one copy) and broadcasts the shards. Tested here: two CPU processes under ``torch.distributed.run`` (DDP over gloo, the same code path
    as ``accelerate launch`` without DeepSpeed/FSDP), including a crash and resume. Not run here:
    ZeRO-3 and FSDP (no GPU on this machine, where accelerate falls back to plain multi-process
    CPU, and no deepspeed package). Under FSDP, resuming DPO on a LoRA adapter is refused with a
    clear error (see ``_AdapterResumeMixin``); under ZeRO-3 DeepSpeed restores its own checkpoint.
    Loading an existing adapter (M_plus) onto a ZeRO-3-sharded base is the least-trodden path: try
    a few steps on the cluster before a long run.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from w2s import registry
from w2s.config import ConfigError, stage2_method_problems, validated
from w2s.io import InputError
from w2s.loading import (  # noqa: F401 - ensure_pad_token and load_for_inference: re-exported for callers
    ensure_pad_token,
    load_causal_lm,
    load_for_inference,
    load_tokenizer,
    sync_special_tokens,
    tokenizer_source,
)
from w2s.models import check_local_model, is_adapter, resolve_model

log = logging.getLogger(__name__)

# The Trainer deletes the older checkpoint only after the newer one is complete: one is enough.
SAVE_TOTAL_LIMIT = 1
CHECKPOINTS = "checkpoints"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


# ----------------------------------------------------------------------------------------------
# Config and input validation


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


def _check_rows(rows: Sequence[dict], fields: Sequence[str], what: str, hint: str) -> list[dict]:
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


# ----------------------------------------------------------------------------------------------
# Model setup


def _weights_dtype(cfg: dict, method: str) -> str:
    """The dtype to load trainable weights in (see "dtype" in the module docstring)."""
    if cfg["dtype"] == "float16" and method == "full":
        return "float32"
    return cfg["dtype"]


def _lora_config(cfg: dict):
    from peft import LoraConfig

    lora = cfg["lora"]
    return LoraConfig(
        r=int(lora["r"]),
        lora_alpha=int(lora["alpha"]),
        lora_dropout=float(lora["dropout"]),
        target_modules=list(lora["target_modules"]),
        bias="none",
        task_type="CAUSAL_LM",
    )


# ----------------------------------------------------------------------------------------------
# Work dir: fingerprints and checkpoints


def _fingerprint(kind: str, model: str, rows: list[dict], cfg: dict, seed: int) -> dict:
    """What a checkpoint was made from; a resume is only valid when all of it is unchanged."""
    data = hashlib.sha256()
    for row in rows:
        data.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
        data.update(b"\n")
    # Keys that do not change the weights (logging, checkpoint cadence) stay out of the fingerprint.
    train_cfg = {k: v for k, v in cfg.items() if k not in ("logging_steps", "save_steps", "label")}
    return {"kind": kind, "model": model, "rows": len(rows), "data_sha256": data.hexdigest(), "cfg": train_cfg, "seed": seed}


def _checkpoint_step(path: Path) -> int | None:
    m = _CHECKPOINT_RE.match(path.name)
    return int(m.group(1)) if m and path.is_dir() else None


def last_complete_checkpoint(ckpt_dir: str | Path) -> str | None:
    """The newest ``checkpoint-N`` that holds ``trainer_state.json`` (the Trainer writes it last)."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None
    found = [(s, p) for p in ckpt_dir.iterdir() if (s := _checkpoint_step(p)) is not None]
    complete = [(s, p) for s, p in found if (p / "trainer_state.json").is_file()]
    return str(max(complete)[1]) if complete else None


def _prepare_work_dir(work_dir: Path, fingerprint: dict) -> None:
    """Check the fingerprint and drop stale or half-written checkpoints (main process only)."""
    ckpt_dir = work_dir / CHECKPOINTS
    fp_path = work_dir / "fingerprint.json"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(fingerprint, indent=2, sort_keys=True, default=str)
    fingerprint = json.loads(text)  # compare as stored: tuples become lists, and so on
    old = None
    if fp_path.is_file():
        try:
            old = json.loads(fp_path.read_text())
        except json.JSONDecodeError:
            old = None
    if old != fingerprint and any(_checkpoint_step(p) is not None for p in ckpt_dir.iterdir()):
        log.warning("%s: checkpoints from a different run (model, data, config or seed changed): removed.", ckpt_dir)
        for p in ckpt_dir.iterdir():
            if _checkpoint_step(p) is not None:
                shutil.rmtree(p)
    for p in ckpt_dir.iterdir():
        # A folder without trainer_state.json was being written when the job died.
        if _checkpoint_step(p) is not None and not (p / "trainer_state.json").is_file():
            log.warning("%s: incomplete checkpoint (no trainer_state.json), removed.", p)
            shutil.rmtree(p)
    tmp = fp_path.with_suffix(".json.tmp")
    tmp.write_text(text)
    os.replace(tmp, fp_path)


# ----------------------------------------------------------------------------------------------
# Trainer configuration


def _common_args(cfg: dict, ckpt_dir: Path, seed: int) -> dict:
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


class _AdapterResumeMixin:
    """Resume a PEFT model that carries more than one adapter.

    With several adapters PEFT saves the active one ("default") at the checkpoint's root and the
    others in sub-folders; ``transformers.Trainer._load_from_checkpoint`` then loads only the
    sub-folders, so after a resume DPO's trained adapter would silently restart from M_plus while
    the step count and optimizer state continue. Load the root adapter into "default" instead; the
    other adapter (DPO's frozen "ref") was rebuilt from M_plus at start and never changes.
    """

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        from accelerate.utils import is_peft_model

        target = model if model is not None else self.model
        target = self.accelerator.unwrap_model(target)
        root = Path(resume_from_checkpoint) / "adapter_model.safetensors"
        if is_peft_model(target) and len(target.peft_config) > 1 and root.is_file():
            if self.is_fsdp_enabled:
                # Sharded parameters need FSDP's own loading, which would hit the same skip; not built.
                raise RuntimeError(
                    f"cannot resume {resume_from_checkpoint} under FSDP: the model carries several adapters "
                    "and transformers would restart the trained one from scratch. Delete "
                    f"{Path(resume_from_checkpoint).parent} to start over, or train with DeepSpeed or DDP."
                )
            from peft import set_peft_model_state_dict
            from safetensors.torch import load_file

            result = set_peft_model_state_dict(target, load_file(str(root)), adapter_name="default")
            if result.unexpected_keys:
                raise RuntimeError(f"{root}: unexpected adapter keys {result.unexpected_keys[:5]}")
            return None
        return super()._load_from_checkpoint(resume_from_checkpoint, model)


def _skip_final_checkpoint_callback():
    from transformers import TrainerCallback

    class SkipFinalCheckpoint(TrainerCallback):
        """The Trainer checkpoints at the last step; the final save follows at once, so skip it.

        For a full 70B model that checkpoint (weights + optimizer state) is hundreds of GB.
        """

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= state.max_steps:
                control.should_save = False
            return control

    return SkipFinalCheckpoint()


def _resumable(trainer_cls):
    """``trainer_cls`` with the adapter-aware resume of ``_AdapterResumeMixin``."""
    return type(f"W2S{trainer_cls.__name__}", (_AdapterResumeMixin, trainer_cls), {})


def _count_truncated(tokenizer, texts: list[str], max_length: int | None) -> int:
    if max_length is None:
        return 0
    lengths = [len(ids) + 1 for ids in tokenizer(texts)["input_ids"]]  # + 1: the EOS TRL appends
    return sum(n > max_length for n in lengths)


def _check_left(trainer, n_rows: int, max_length: int | None) -> None:
    """TRL drops rows whose prompt alone fills max_length; with none left it would fail obscurely."""
    left = len(trainer.train_dataset)
    if left == 0:
        raise InputError(
            f"all {n_rows} training rows were dropped: every prompt alone reaches max_length={max_length} "
            "tokens. Raise max_length in the training config."
        )
    if left < n_rows:
        log.warning("%d of %d rows dropped: their prompt alone reaches max_length=%s.", n_rows - left, n_rows, max_length)


# ----------------------------------------------------------------------------------------------
# SFT


def build_sft_trainer(model: str, records: list[dict], cfg: dict, work_dir: str, seed: int = 0, callbacks=None):
    """The configured ``SFTTrainer`` and facts about the setup; ``train_sft`` runs it.

    Separate so that tests can look inside (labels, reference model) without training.
    """
    from accelerate import PartialState
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTConfig

    rows = _check_rows(records, ("prompt", "completion"), "SFT record", "Check the filter that made the SFT set.")
    cfg = resolve_cfg(cfg)
    check_local_model(model)
    if is_adapter(model):
        raise InputError(
            f"train_sft: {model} is a PEFT adapter folder; SFT starts from a base model (hub id or full "
            "model folder). Merge the adapter first or give its base model."
        )
    work = Path(work_dir)
    fingerprint = _fingerprint("sft", model, rows, cfg, seed)

    # The config first: under `accelerate launch` it sets up the distributed state (DeepSpeed
    # ZeRO-3 sharded loading included) that loading the model below relies on.
    args = SFTConfig(
        **_common_args(cfg, work / CHECKPOINTS, seed),
        completion_only_loss=True,
        packing=False,
        dataset_num_proc=None,
    )
    state = PartialState()
    if state.is_main_process:
        _prepare_work_dir(work, fingerprint)
    state.wait_for_everyone()
    resume = last_complete_checkpoint(work / CHECKPOINTS)

    set_seed(seed)
    tokenizer = load_tokenizer(model, padding_side="right")
    pad = ensure_pad_token(tokenizer, allow_new_token=cfg["method"] == "full")
    net = load_causal_lm(model, _weights_dtype(cfg, cfg["method"]))
    if pad == "added":
        net.resize_token_embeddings(len(tokenizer))
    sync_special_tokens(net, tokenizer)

    truncated = _count_truncated(tokenizer, [r["prompt"] + r["completion"] for r in rows], cfg["max_length"])
    if truncated:
        log.warning("%d of %d SFT records are longer than max_length=%s tokens and are truncated.", truncated, len(rows), cfg["max_length"])

    from trl import SFTTrainer

    trainer = _resumable(SFTTrainer)(
        model=net,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=_lora_config(cfg) if cfg["method"] == "lora" else None,
        callbacks=[_skip_final_checkpoint_callback(), *(callbacks or [])],
    )
    _check_left(trainer, len(rows), cfg["max_length"])
    info = {"method": cfg["method"], "pad_token": pad, "truncated": truncated, "records": len(rows),
            "resume": resume, "base": model, "state": state}
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
    _set_threads(threads)
    _tune_cpu_malloc()
    t0 = time.perf_counter()
    trainer, info = build_sft_trainer(model, records, cfg, work_dir, seed, callbacks)
    return _run_and_save(trainer, info, output_dir, work_dir, t0, kind="sft")


# ----------------------------------------------------------------------------------------------
# Preference optimisation (stage II)


def build_preference_trainer(
    trainer: str, model: str, pairs: list[dict], cfg: dict, work_dir: str, seed: int = 0, callbacks=None
):
    """The configured TRL preference trainer (``trainer``: a w2s.registry.PREFERENCE_TRAINERS name)
    starting from M_plus (``model``), and setup facts. ``cfg``: training keys plus the trainer's
    options, which go to its TRL config class unchanged."""
    from accelerate import PartialState
    from datasets import Dataset
    from transformers import set_seed

    if trainer not in registry.PREFERENCE_TRAINERS:
        raise InputError(f"preference trainer must be one of {', '.join(registry.PREFERENCE_TRAINERS)}, got {trainer!r}.")
    spec = registry.PREFERENCE_TRAINERS[trainer]
    rows = _check_rows(pairs, ("prompt", "chosen", "rejected"), "preference pair",
                       "Pair mining found no usable question (confidence threshold, too-easy questions).")
    cfg = resolve_cfg(cfg, trainer)
    check_local_model(model)
    ref = resolve_model(model)
    continue_adapter = ref.adapter is not None
    if continue_adapter and cfg["method"] == "full":
        log.warning("%s is a LoRA adapter: preference training continues that adapter (cfg method 'full' ignored).", model)
    method_used = "lora" if continue_adapter else cfg["method"]
    work = Path(work_dir)
    fingerprint = _fingerprint(trainer, model, rows, {**cfg, "method": method_used}, seed)

    options = {k: cfg[k] for k in spec.options if k in cfg}
    args = registry.load(spec.config)(**_common_args(cfg, work / CHECKPOINTS, seed), **options, dataset_num_proc=None)
    state = PartialState()
    if state.is_main_process:
        _prepare_work_dir(work, fingerprint)
    state.wait_for_everyone()
    resume = last_complete_checkpoint(work / CHECKPOINTS)

    set_seed(seed)
    tokenizer = load_tokenizer(tokenizer_source(model), padding_side="right")
    # No new pad token here: TRL would load DPO's full-model reference from disk with the old
    # vocabulary. The preference collators mask padding by position, so EOS as pad is harmless, and
    # an M_plus written by train_sft already carries its pad token.
    pad = ensure_pad_token(tokenizer, allow_new_token=False)
    net = load_causal_lm(ref.base, _weights_dtype(cfg, method_used))
    peft_config = None
    if continue_adapter:
        from peft import PeftModel

        # is_trainable: PEFT loads adapters frozen for inference by default.
        net = PeftModel.from_pretrained(net, ref.adapter, is_trainable=True)
    elif cfg["method"] == "lora":
        peft_config = _lora_config(cfg)
    sync_special_tokens(net, tokenizer)

    truncated = max(
        _count_truncated(tokenizer, [r["prompt"] + r["chosen"] for r in rows], cfg["max_length"]),
        _count_truncated(tokenizer, [r["prompt"] + r["rejected"] for r in rows], cfg["max_length"]),
    )
    if truncated:
        log.warning("up to %d of %d pairs are longer than max_length=%s tokens and are truncated.", truncated, len(rows), cfg["max_length"])

    preference = _resumable(registry.load(spec.trainer))(
        model=net,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[_skip_final_checkpoint_callback(), *(callbacks or [])],
    )
    _check_left(preference, len(rows), cfg["max_length"])
    info = {"method": method_used, "preference": trainer, "options": options, "pad_token": pad, "truncated": truncated,
            "records": len(rows), "resume": resume, "base": ref.base if continue_adapter else model, "state": state}
    return preference, info


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
    _set_threads(threads)
    _tune_cpu_malloc()
    t0 = time.perf_counter()
    preference, info = build_preference_trainer(trainer, model, pairs, cfg, work_dir, seed, callbacks)
    return _run_and_save(preference, info, output_dir, work_dir, t0, kind=trainer)


# ----------------------------------------------------------------------------------------------
# Running, saving, loading


_MALLOC_TUNED = False


def _tune_cpu_malloc() -> None:
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


def _set_threads(threads: int) -> None:
    import torch

    if threads and threads > 0:
        torch.set_num_threads(int(threads))


def _run_and_save(trainer, info: dict, output_dir: str, work_dir: str, t0: float, kind: str) -> dict:
    state = info["state"]
    resume = info["resume"]
    if resume:
        log.info("resuming %s from %s", kind, resume)
    result = trainer.train(resume_from_checkpoint=resume)
    _save_final(trainer, output_dir, info, state)
    if state.is_main_process:
        # A finished run's checkpoints could only "resume" it again, and a forced rerun must start over.
        shutil.rmtree(Path(work_dir) / CHECKPOINTS, ignore_errors=True)
        (Path(work_dir) / "fingerprint.json").unlink(missing_ok=True)
    state.wait_for_everyone()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {
        "kind": kind,
        "method": info["method"],
        "records": info["records"],
        "steps": int(trainer.state.global_step),
        "epochs": float(trainer.state.epoch or 0.0),
        "final_loss": float(losses[-1]) if losses else float(result.training_loss),
        "mean_loss": float(result.training_loss),
        "seconds": round(time.perf_counter() - t0, 3),
        "resumed_from": resume,
        "truncated": info["truncated"],
        "pad_token": info["pad_token"],
        "world_size": int(state.num_processes),
    }


def _save_final(trainer, output_dir: str, info: dict, state) -> None:
    """Save into ``.<name>.partial`` beside ``output_dir`` on every process; rename on the main one.

    A fixed name (not a random temp folder) because with DeepSpeed / FSDP every process takes part
    in gathering the weights and must write to the same place.
    """
    out = Path(output_dir)
    partial = out.parent / f".{out.name}.partial"
    if state.is_main_process:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(partial, ignore_errors=True)
    state.wait_for_everyone()
    trainer.save_model(str(partial))
    state.wait_for_everyone()
    if state.is_main_process:
        # DPO's frozen reference adapter is a copy of M_plus; it does not belong in M_pro.
        for sub in partial.iterdir():
            if sub.is_dir() and (sub / "adapter_config.json").is_file():
                shutil.rmtree(sub)
        adapter_cfg = partial / "adapter_config.json"
        if adapter_cfg.is_file():
            # resolve_model finds the base through this field: keep it exactly as the caller gave it.
            meta = json.loads(adapter_cfg.read_text())
            meta["base_model_name_or_path"] = info["base"]
            adapter_cfg.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        for junk in ("training_args.bin",):
            (partial / junk).unlink(missing_ok=True)
        if out.exists():
            shutil.rmtree(out)
        os.replace(partial, out)
    state.wait_for_everyone()


__all__ = [
    "build_preference_trainer",
    "build_sft_trainer",
    "ensure_pad_token",
    "last_complete_checkpoint",
    "load_for_inference",
    "resolve_cfg",
    "train_preference",
    "train_sft",
]
