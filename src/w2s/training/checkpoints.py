"""The work folder of a training run: a fingerprint of what made its checkpoints, resuming from the
newest complete one, and the atomic save of the final model."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from pathlib import Path

from ..models import MODEL_CARD, TRAINING_RECORD

log = logging.getLogger("w2s.training")

CHECKPOINTS = "checkpoints"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def fingerprint(kind: str, model: str, rows: list[dict], cfg: dict, seed: int) -> dict:
    """What a checkpoint was made from; a resume is only valid when all of it is unchanged."""
    data = hashlib.sha256()
    for row in rows:
        data.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
        data.update(b"\n")
    # Keys that do not change the weights (logging, checkpoint cadence) stay out of the fingerprint.
    train_cfg = {k: v for k, v in cfg.items() if k not in ("logging_steps", "save_steps", "label")}
    return {"kind": kind, "model": model, "rows": len(rows), "data_sha256": data.hexdigest(), "cfg": train_cfg, "seed": seed}


def open_work_dir(work_dir: str | Path, run: dict):
    """Ready the work folder for the run ``run`` describes (a ``fingerprint``) on every process.

    Returns the distributed state and the checkpoint to resume from (None: start afresh).
    """
    from accelerate import PartialState

    work = Path(work_dir)
    state = PartialState()
    if state.is_main_process:
        prepare_work_dir(work, run)
    state.wait_for_everyone()
    return state, last_complete_checkpoint(work / CHECKPOINTS)


def checkpoint_step(path: Path) -> int | None:
    m = _CHECKPOINT_RE.match(path.name)
    return int(m.group(1)) if m and path.is_dir() else None


def last_complete_checkpoint(ckpt_dir: str | Path) -> str | None:
    """The newest ``checkpoint-N`` that holds ``trainer_state.json`` (the Trainer writes it last)."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None
    found = [(s, p) for p in ckpt_dir.iterdir() if (s := checkpoint_step(p)) is not None]
    complete = [(s, p) for s, p in found if (p / "trainer_state.json").is_file()]
    return str(max(complete)[1]) if complete else None


def prepare_work_dir(work_dir: Path, fingerprint: dict) -> None:
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
    if old != fingerprint and any(checkpoint_step(p) is not None for p in ckpt_dir.iterdir()):
        log.warning("%s: checkpoints from a different run (model, data, config or seed changed): removed.", ckpt_dir)
        for p in ckpt_dir.iterdir():
            if checkpoint_step(p) is not None:
                shutil.rmtree(p)
    for p in ckpt_dir.iterdir():
        # A folder without trainer_state.json was being written when the job died.
        if checkpoint_step(p) is not None and not (p / "trainer_state.json").is_file():
            log.warning("%s: incomplete checkpoint (no trainer_state.json), removed.", p)
            shutil.rmtree(p)
    tmp = fp_path.with_suffix(".json.tmp")
    tmp.write_text(text)
    os.replace(tmp, fp_path)


class AdapterResumeMixin:
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


def skip_final_checkpoint_callback():
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


def resumable(trainer_cls):
    """``trainer_cls`` with the adapter-aware resume of ``AdapterResumeMixin``."""
    return type(f"W2S{trainer_cls.__name__}", (AdapterResumeMixin, trainer_cls), {})


def save_final(trainer, output_dir: str, info: dict, state, record: dict) -> None:
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
        for junk in ("training_args.bin", MODEL_CARD):
            (partial / junk).unlink(missing_ok=True)
        (partial / TRAINING_RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(partial, out)
    state.wait_for_everyone()
