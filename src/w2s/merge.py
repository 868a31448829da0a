"""Merged full weights of a LoRA adapter folder, for serving (the workflow's optional `merge` target).

``merge_adapter(model_dir, out_dir, metrics_paths, card_spec)`` loads the adapter's base model in
the dtype the adapter was trained in (``w2s_training.json``), applies the adapter with PEFT's
``merge_and_unload``, and writes ``out_dir`` atomically: ``save_pretrained`` weights (safetensors),
the adapter folder's tokenizer, a copy of its training record with ``merged_from`` added, and a
model card (``library_name: transformers``). The adapter folder is left as it is. A folder of full
weights has nothing to merge: that is an error naming the folder to serve instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .io import InputError, atomic_dir, read_json, write_json
from .models import MODEL_CARD, TRAINING_RECORD, is_adapter


def merge_adapter(model_dir: str, out_dir: str, metrics_paths: Sequence[str], card_spec: Mapping) -> Path:
    """Write the merged model of the adapter in ``model_dir`` to ``out_dir``; return ``out_dir``."""
    from transformers import AutoTokenizer

    from .modelcard import write_model_card
    from .training import load_for_inference

    if not is_adapter(model_dir):
        raise InputError(
            f"{model_dir} holds full weights, not a LoRA adapter: there is nothing to merge. Serve that folder "
            f"as it is (its model card is {MODEL_CARD} there)."
        )
    record_path = Path(model_dir) / TRAINING_RECORD
    if not record_path.is_file():
        raise InputError(f"{model_dir}: no {TRAINING_RECORD}; this is not a finished training folder.")
    record = read_json(record_path)
    dtype = record.get("config", {}).get("dtype") or "float32"
    net, _ = load_for_inference(model_dir, dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)  # as training saved it (padding side included)
    with atomic_dir(out_dir) as tmp:
        net.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / TRAINING_RECORD, {**record, "merged_from": str(model_dir)})
        spec = {**card_spec, "merged_from": str(model_dir), "model_name": f"{card_spec['model_name']} (merged)"}
        write_model_card(str(tmp), metrics_paths, spec,
                         card_path=str(tmp / MODEL_CARD), shown_path=str(out_dir))
    return Path(out_dir)


__all__ = ["merge_adapter"]
