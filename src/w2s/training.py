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
      ``output_dir`` and the main process renames it at the end. The last file written before the
      rename is ``w2s_training.json`` (``w2s.models.TRAINING_RECORD``: kind, method, start model,
      adapter base, the resolved config, seed, data sha256, steps, losses; no timings), which the
      workflow declares as the training job's output and the model card reads. An existing
      ``output_dir`` is removed when training starts: a rerun never leaves the previous model (or
      the card beside it) looking current.
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

from w2s.io import InputError
from w2s.models import TRAINING_RECORD, check_local_model, is_adapter, resolve_model

log = logging.getLogger(__name__)

# The paper trained with LLaMA-Factory, LoRA on all seven projection matrices of Llama.
LORA_DEFAULTS: dict[str, Any] = {
    "r": 16,
    "alpha": 32,
    "dropout": 0.05,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}

DEFAULTS: dict[str, Any] = {
    "method": "lora",
    "learning_rate": None,  # None: 1e-4 for LoRA, 1e-5 for full fine-tuning
    "epochs": 3,
    "max_steps": -1,
    "batch_size": 8,
    "gradient_accumulation_steps": 1,
    "max_length": 2048,
    "lr_scheduler": "cosine",
    "warmup_ratio": 0.0,
    "weight_decay": 0.0,
    "save_steps": 500,
    "save_total_limit": 1,
    "logging_steps": 10,
    "dtype": "float32",
    "gradient_checkpointing": False,
    "beta": 0.1,
}

PREFERENCE_METHODS = ("dpo", "orpo")
CHECKPOINTS = "checkpoints"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
# Special tokens that tokenizers ship for padding without declaring them as ``pad_token``.
_PAD_LIKE = ("<|finetune_right_pad_id|>", "<pad>", "<|pad|>", "[PAD]", "<|padding|>", "<|reserved_special_token_0|>")


# ----------------------------------------------------------------------------------------------
# Config and input validation


def resolve_cfg(cfg: dict | None) -> dict:
    """``cfg`` over the defaults, checked; unknown keys are kept (other rules may share the dict)."""
    out = copy.deepcopy(DEFAULTS)
    cfg = dict(cfg or {})
    lora = {**LORA_DEFAULTS, **(cfg.pop("lora", None) or {})}
    out.update({k: v for k, v in cfg.items() if v is not None or k == "learning_rate"})
    out["lora"] = lora
    if out["method"] not in ("full", "lora"):
        raise InputError(f"training config: method must be 'full' or 'lora', got {out['method']!r}.")
    if out["dtype"] not in ("float32", "bfloat16", "float16"):
        raise InputError(f"training config: dtype must be float32, bfloat16 or float16, got {out['dtype']!r}.")
    if out["learning_rate"] is None:
        out["learning_rate"] = 1e-4 if out["method"] == "lora" else 1e-5
    for key in ("batch_size", "gradient_accumulation_steps", "save_steps", "logging_steps"):
        if not isinstance(out[key], int) or isinstance(out[key], bool) or out[key] < 1:
            raise InputError(f"training config: {key} must be a positive integer, got {out[key]!r}.")
    if not isinstance(out["max_steps"], int) or out["max_steps"] == 0 or out["max_steps"] < -1:
        raise InputError(f"training config: max_steps must be -1 (use epochs) or positive, got {out['max_steps']!r}.")
    if out["max_steps"] == -1 and not (isinstance(out["epochs"], (int, float)) and out["epochs"] > 0):
        raise InputError(f"training config: epochs must be positive when max_steps is -1, got {out['epochs']!r}.")
    if out["max_length"] is not None and (not isinstance(out["max_length"], int) or out["max_length"] < 2):
        raise InputError(f"training config: max_length must be an integer >= 2, got {out['max_length']!r}.")
    if not 0 <= float(out["warmup_ratio"]) < 1:
        raise InputError(f"training config: warmup_ratio must be in [0, 1), got {out['warmup_ratio']!r}.")
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
# Tokenizer and model loading


def ensure_pad_token(tokenizer, *, allow_new_token: bool) -> str:
    """Give ``tokenizer`` a pad token distinct from EOS where it can; return how it was chosen.

    Returns one of "kept", "unk", "special:<token>", "added", "eos" (see the module docstring).
    "added" means the vocabulary grew: the caller must resize the model's embeddings.
    """
    eos = tokenizer.eos_token_id
    if eos is None:
        raise InputError(
            f"tokenizer {tokenizer.name_or_path!r} has no eos_token: the model could not learn to stop. "
            "Set eos_token in its tokenizer_config.json."
        )
    if tokenizer.pad_token_id is not None and tokenizer.pad_token_id != eos:
        return "kept"
    if tokenizer.unk_token_id is not None and tokenizer.unk_token_id != eos:
        tokenizer.pad_token = tokenizer.unk_token
        return "unk"
    vocab = tokenizer.get_vocab()
    for tok in _PAD_LIKE:
        if tok in vocab and vocab[tok] != eos:
            tokenizer.pad_token = tok
            return f"special:{tok}"
    if allow_new_token:
        tokenizer.add_special_tokens({"pad_token": "<pad>"})
        return "added"
    log.warning(
        "tokenizer %r has no pad, unk or spare pad-like token and a LoRA adapter cannot carry a new "
        "embedding row: padding with EOS. The loss still covers each completion's EOS (TRL masks "
        "padding by attention mask), so the model learns to stop.",
        tokenizer.name_or_path,
    )
    tokenizer.pad_token = tokenizer.eos_token
    return "eos"


def _load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    # Training pads on the right (TRL's collators expect it); load_for_inference switches to left.
    tok.padding_side = "right"
    return tok


def _torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def _weights_dtype(cfg: dict, method: str) -> str:
    """The dtype to load trainable weights in (see "dtype" in the module docstring)."""
    if cfg["dtype"] == "float16" and method == "full":
        return "float32"
    return cfg["dtype"]


def _load_causal_lm(path: str, dtype: str):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, dtype=_torch_dtype(dtype))


def _sync_special_tokens(model, tokenizer) -> None:
    """Make the model's config and generation config agree with the tokenizer on pad and EOS."""
    cfgs = [model.config]
    if getattr(model, "generation_config", None) is not None:
        cfgs.append(model.generation_config)
    for c in cfgs:
        c.pad_token_id = tokenizer.pad_token_id
    gen = getattr(model, "generation_config", None)
    if gen is not None:
        eos = gen.eos_token_id
        eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
        if tokenizer.eos_token_id not in eos:
            gen.eos_token_id = [tokenizer.eos_token_id, *eos] if eos else tokenizer.eos_token_id
    if getattr(model.config, "eos_token_id", None) is None:
        model.config.eos_token_id = tokenizer.eos_token_id


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
    train_cfg = {k: v for k, v in cfg.items() if k not in ("logging_steps", "save_steps", "save_total_limit")}
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
        save_total_limit=int(cfg.get("save_total_limit") or 1),
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


def _trainer_classes():
    from trl import DPOTrainer, SFTTrainer
    from trl.experimental.orpo import ORPOTrainer

    class W2SSFTTrainer(_AdapterResumeMixin, SFTTrainer):
        pass

    class W2SDPOTrainer(_AdapterResumeMixin, DPOTrainer):
        pass

    class W2SORPOTrainer(_AdapterResumeMixin, ORPOTrainer):
        pass

    return W2SSFTTrainer, W2SDPOTrainer, W2SORPOTrainer


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
    tokenizer = _load_tokenizer(model)
    pad = ensure_pad_token(tokenizer, allow_new_token=cfg["method"] == "full")
    net = _load_causal_lm(model, _weights_dtype(cfg, cfg["method"]))
    if pad == "added":
        net.resize_token_embeddings(len(tokenizer))
    _sync_special_tokens(net, tokenizer)

    truncated = _count_truncated(tokenizer, [r["prompt"] + r["completion"] for r in rows], cfg["max_length"])
    if truncated:
        log.warning("%d of %d SFT records are longer than max_length=%s tokens and are truncated.", truncated, len(rows), cfg["max_length"])

    SFT, _, _ = _trainer_classes()
    trainer = SFT(
        model=net,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=_lora_config(cfg) if cfg["method"] == "lora" else None,
        callbacks=[_skip_final_checkpoint_callback(), *(callbacks or [])],
    )
    _check_left(trainer, len(rows), cfg["max_length"])
    info = {"method": cfg["method"], "pad_token": pad, "truncated": truncated, "records": len(rows),
            "resume": resume, "base": model, "state": state, "start": model, "fingerprint": fingerprint}
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
# DPO / ORPO


def build_preference_trainer(
    method: str, model: str, pairs: list[dict], cfg: dict, work_dir: str, seed: int = 0, callbacks=None
):
    """The configured DPO or ORPO trainer starting from M_plus (``model``), and setup facts."""
    from accelerate import PartialState
    from datasets import Dataset
    from transformers import set_seed

    if method not in PREFERENCE_METHODS:
        raise InputError(f"preference method must be one of {', '.join(PREFERENCE_METHODS)}, got {method!r}.")
    rows = _check_rows(pairs, ("prompt", "chosen", "rejected"), "preference pair",
                       "Pair mining found no usable question (confidence threshold, too-easy questions).")
    cfg = resolve_cfg(cfg)
    check_local_model(model)
    ref = resolve_model(model)
    continue_adapter = ref.adapter is not None
    if continue_adapter and cfg["method"] == "full":
        log.warning("%s is a LoRA adapter: preference training continues that adapter (cfg method 'full' ignored).", model)
    method_used = "lora" if continue_adapter else cfg["method"]
    work = Path(work_dir)
    fingerprint = _fingerprint(method, model, rows, {**cfg, "method": method_used}, seed)

    common = _common_args(cfg, work / CHECKPOINTS, seed)
    if method == "dpo":
        from trl import DPOConfig

        args = DPOConfig(**common, beta=float(cfg["beta"]), dataset_num_proc=None)
    else:
        from trl.experimental.orpo import ORPOConfig

        args = ORPOConfig(**common, beta=float(cfg["beta"]), dataset_num_proc=None)
    state = PartialState()
    if state.is_main_process:
        _prepare_work_dir(work, fingerprint)
    state.wait_for_everyone()
    resume = last_complete_checkpoint(work / CHECKPOINTS)

    set_seed(seed)
    tokenizer = _load_tokenizer(ref.tokenizer_path)
    # No new pad token here: TRL would load DPO's full-model reference from disk with the old
    # vocabulary. The preference collators mask padding by position, so EOS as pad is harmless, and
    # an M_plus written by train_sft already carries its pad token.
    pad = ensure_pad_token(tokenizer, allow_new_token=False)
    net = _load_causal_lm(ref.base, _weights_dtype(cfg, method_used))
    peft_config = None
    if continue_adapter:
        from peft import PeftModel

        # is_trainable: PEFT loads adapters frozen for inference by default.
        net = PeftModel.from_pretrained(net, ref.adapter, is_trainable=True)
    elif cfg["method"] == "lora":
        peft_config = _lora_config(cfg)
    _sync_special_tokens(net, tokenizer)

    truncated = max(
        _count_truncated(tokenizer, [r["prompt"] + r["chosen"] for r in rows], cfg["max_length"]),
        _count_truncated(tokenizer, [r["prompt"] + r["rejected"] for r in rows], cfg["max_length"]),
    )
    if truncated:
        log.warning("up to %d of %d pairs are longer than max_length=%s tokens and are truncated.", truncated, len(rows), cfg["max_length"])

    _, DPO, ORPO = _trainer_classes()
    cls = DPO if method == "dpo" else ORPO
    trainer = cls(
        model=net,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[_skip_final_checkpoint_callback(), *(callbacks or [])],
    )
    _check_left(trainer, len(rows), cfg["max_length"])
    info = {"method": method_used, "preference": method, "pad_token": pad, "truncated": truncated,
            "records": len(rows), "resume": resume, "base": ref.base if continue_adapter else model, "state": state,
            "start": model, "fingerprint": fingerprint}
    return trainer, info


def train_preference(
    method: str,
    model: str,
    pairs: list[dict],
    output_dir: str,
    cfg: dict,
    work_dir: str,
    seed: int = 0,
    threads: int = 1,
    callbacks: list | None = None,
) -> dict:
    """DPO or ORPO from M_plus (``model``: full model folder or LoRA adapter folder) on ``pairs``."""
    _set_threads(threads)
    _tune_cpu_malloc()
    t0 = time.perf_counter()
    trainer, info = build_preference_trainer(method, model, pairs, cfg, work_dir, seed, callbacks)
    return _run_and_save(trainer, info, output_dir, work_dir, t0, kind=method)


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
    _save_final(trainer, output_dir, info, state, record=training_record(info, summary))
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
    fingerprint = info["fingerprint"]
    return {
        **summary,
        "start_model": info["start"],
        "adapter_base": info["base"] if info["method"] == "lora" else None,
        "config": fingerprint["cfg"],
        "seed": fingerprint["seed"],
        "data_sha256": fingerprint["data_sha256"],
    }


def _save_final(trainer, output_dir: str, info: dict, state, record: dict) -> None:
    """Save into ``.<name>.partial`` beside ``output_dir`` on every process; rename on the main one.

    A fixed name (not a random temp folder) because with DeepSpeed / FSDP every process takes part
    in gathering the weights and must write to the same place. ``record`` goes into
    ``TRAINING_RECORD`` last, before the rename: a folder under its name is always complete.
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
        # README.md: PEFT saves a template model card with every adapter; the workflow writes the
        # real one (w2s.modelcard) after the model's evaluations.
        for junk in ("training_args.bin", "README.md"):
            (partial / junk).unlink(missing_ok=True)
        (partial / TRAINING_RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(partial, out)
    state.wait_for_everyone()


def load_for_inference(model: str, dtype: str = "float32"):
    """Load ``model`` (full folder, hub id, or LoRA adapter folder) merged, in eval mode.

    Returns (model, tokenizer); the tokenizer pads on the left for batched generation and has a
    pad token (chosen as in training when it had none).
    """
    if dtype not in ("float32", "bfloat16", "float16"):
        raise InputError(f"load_for_inference: dtype must be float32, bfloat16 or float16, got {dtype!r}.")
    check_local_model(model)
    ref = resolve_model(model)
    tokenizer = _load_tokenizer(ref.tokenizer_path)
    ensure_pad_token(tokenizer, allow_new_token=False)
    tokenizer.padding_side = "left"
    net = _load_causal_lm(ref.base, dtype)
    if ref.adapter is not None:
        from peft import PeftModel

        net = PeftModel.from_pretrained(net, ref.adapter).merge_and_unload()
    _sync_special_tokens(net, tokenizer)
    net.eval()
    return net, tokenizer


__all__ = [
    "DEFAULTS",
    "LORA_DEFAULTS",
    "build_preference_trainer",
    "build_sft_trainer",
    "ensure_pad_token",
    "last_complete_checkpoint",
    "load_for_inference",
    "resolve_cfg",
    "train_preference",
    "train_sft",
]
