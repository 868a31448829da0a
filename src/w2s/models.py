"""Where a model lives: a hub id, a local folder, or a LoRA adapter folder on top of either.

Training writes LoRA runs as adapter folders (``adapter_config.json``, PEFT's format) so that a
70B run stores megabytes per variant, not a 140 GB copy. Every consumer resolves a model through
``resolve_model`` so that adapters are applied the same way everywhere.

A folder that ``w2s.training`` wrote holds ``TRAINING_RECORD`` (how it was trained), written inside
the folder before the folder appears under its name: the workflow declares that file, not the
folder, as the training job's output, so that a model card added to the folder later
(``w2s.modelcard``) is no new input to anything downstream.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path


# What a finished training run leaves in its model folder (see w2s.training); the model card is the
# Hub's README.md.
TRAINING_RECORD = "w2s_training.json"
MODEL_CARD = "README.md"


@dataclass(frozen=True)
class ModelRef:
    base: str  # hub id or local folder of full weights
    adapter: str | None = None  # local folder of a PEFT adapter trained on top of ``base``
    tokenizer: str | None = None  # folder holding the tokenizer (the adapter folder saves one too)

    @property
    def tokenizer_path(self) -> str:
        return self.tokenizer or self.adapter or self.base


def is_adapter(path: str | Path) -> bool:
    return (Path(path) / "adapter_config.json").is_file()


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def split_revision(spec: str | Path) -> tuple[str, str | None]:
    """``owner/name@revision`` -> (``owner/name``, ``revision``); any other spec -> (spec, None).

    A hub model pinned by ``models.<name>.revision`` travels between the rules as
    ``owner/name@revision`` (hub ids cannot hold "@"); the loaders split it and pass ``revision=``
    to ``from_pretrained``."""
    spec = str(spec)
    name, sep, revision = spec.rpartition("@")
    if sep and revision and _HUB_ID.fullmatch(name) and not Path(spec).exists():
        return name, revision
    return spec, None


def with_revision(path: str, revision: str | None) -> str:
    return f"{path}@{revision}" if revision else path


def is_hub_model(spec: str | Path) -> bool:
    """Whether ``spec`` names a hub repository (``owner/name``, optionally ``@revision``), not a folder."""
    name, _ = split_revision(spec)
    return bool(_HUB_ID.fullmatch(name)) and not name.startswith((".", "/", "~")) and not Path(name).exists()


def resolve_model(path: str | Path) -> ModelRef:
    """Split ``path`` into base weights and an optional adapter.

    An adapter's base is read from ``adapter_config.json`` (``base_model_name_or_path``), which
    PEFT writes as given when training started: a hub id or a path relative to the workflow's
    working directory; PEFT's ``revision`` there pins a hub base (``owner/name@revision``).
    """
    path = str(path)
    if not is_adapter(path):
        return ModelRef(base=path)
    cfg = json.loads((Path(path) / "adapter_config.json").read_text())
    base = cfg.get("base_model_name_or_path")
    if not base:
        raise ValueError(f"{path}/adapter_config.json has no base_model_name_or_path; cannot load the adapter.")
    return ModelRef(base=with_revision(base, cfg.get("revision")), adapter=path)


def local_model_files(path: str) -> list[str]:
    """The files of a local model folder (and of a local base of an adapter folder) that loading
    reads: the top-level files, not hidden ones. A hub model or a missing folder gives none."""
    if is_hub_model(path) or not Path(path).is_dir():
        return []
    files = sorted(str(f) for f in Path(path).iterdir() if f.is_file() and not f.name.startswith("."))
    base = resolve_model(path).base if is_adapter(path) else None
    return files + (local_model_files(base) if base and base != path else [])


def check_local_model(path: str) -> None:
    """Fail early with a clear message when a path-looking model does not exist."""
    p = Path(path)
    looks_local = path.startswith((".", "/", "~")) or p.exists() or path.count("/") != 1
    if looks_local and not (p / "config.json").is_file() and not is_adapter(p):
        raise FileNotFoundError(
            f"model '{path}': no config.json or adapter_config.json there. Give a Hugging Face hub id "
            "(owner/name) or a local folder written by save_pretrained."
        )


def model_dir_of_record(record: str | Path) -> str:
    """The model folder of a training job whose declared output is ``<folder>/TRAINING_RECORD``."""
    record = Path(record)
    if record.name != TRAINING_RECORD:
        raise ValueError(f"{record}: a training job's output must be <model folder>/{TRAINING_RECORD}.")
    return str(record.parent)
