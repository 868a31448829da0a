"""The Hugging Face hub and the download caches: jobs run offline, `snakemake prefetch` fills the
caches on a machine with network, and a missing model or dataset is one message.

- Jobs (``w2s.workflow.start``) run with ``HF_HUB_OFFLINE=1`` and ``HF_DATASETS_OFFLINE=1`` unless the
  environment already sets them: ``HF_HUB_OFFLINE=0`` lets jobs download (and wait on the hub's
  retries when there is no network). Offline, a job never waits on a network: what it needs is in
  the cache or the job stops at once.
- ``snakemake prefetch --cores 1`` (rule ``prefetch``, ``prefetch`` below) downloads every
  configured hub model (``huggingface_hub.snapshot_download`` into the hub cache: ``HF_HUB_CACHE``,
  else ``$HF_HOME/hub``), every ``hf://`` dataset (the datasets library's cache:
  ``HF_DATASETS_CACHE``, else ``$HF_HOME/datasets``) and every URL file (the workflow's download
  cache, ``w2s.sources.DOWNLOAD_CACHE``), on the login node of a cluster.
- ``require_model``: a job's model is in the cache, else ``NotInCache`` naming the config key,
  the cache and the prefetch command (docs/cluster.md, "Offline clusters").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .io import InputError
from .models import is_hub_model, resolve_model, split_revision

log = logging.getLogger("w2s.hub")

PREFETCH_COMMAND = "snakemake prefetch --cores 1"
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
_TRUE = ("1", "true", "yes", "on")
# The run's config (w2s.workflow.start): messages name the config key of a model or dataset.
_CONFIG: dict = {}


class NotInCache(InputError):
    """A model or dataset a job needs is not in the cache and the job may not download it."""


def set_job_defaults() -> None:
    """Jobs run with the hub offline unless the environment says otherwise (before any HF import)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", os.environ["HF_HUB_OFFLINE"])


def go_online() -> None:
    """For ``prefetch``, the one job that downloads, whatever the environment says."""
    for name in OFFLINE_VARIABLES:
        os.environ[name] = "0"


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def use_config(config: Mapping | None) -> None:
    _CONFIG.clear()
    _CONFIG.update(config or {})


def hub_cache() -> str:
    """Where huggingface_hub keeps models (HF_HUB_CACHE, else $HF_HOME/hub)."""
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def datasets_cache() -> str:
    """Where the datasets library keeps hub datasets (HF_DATASETS_CACHE, else $HF_HOME/datasets);
    read from the environment as the library does, without importing it (seconds)."""
    if os.environ.get("HF_DATASETS_CACHE"):
        return os.environ["HF_DATASETS_CACHE"]
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return str(Path(home).expanduser() / "datasets")


def model_key(name: str) -> str:
    """The config key that names hub model ``name`` (``models.<m>.path``)."""
    for model, cfg in (_CONFIG.get("models") or {}).items():
        if isinstance(cfg, Mapping) and cfg.get("path") == name:
            return f"models.{model}.path"
    return "models.<name>.path"


def source_key(path: str) -> str:
    """The config key that names a dataset source (``datasets.<d>.source.<split>.path``)."""
    for dataset, cfg in (_CONFIG.get("datasets") or {}).items():
        source = cfg.get("source") if isinstance(cfg, Mapping) else None
        for split, spec in (source.items() if isinstance(source, Mapping) else ()):
            if isinstance(spec, Mapping) and spec.get("path") == path:
                return f"datasets.{dataset}.source.{split}.path"
    return "datasets.<name>.source.<split>.path"


def not_in_cache(kind: str, name: str, key: str, cache: str) -> NotInCache:
    return NotInCache(
        f"{kind} '{name}' ({key}) is not in the cache {cache}, and jobs run with the hub offline "
        f"(HF_HUB_OFFLINE=1). Download it first on a machine with network, with this run's --configfile or "
        f"--profile: `{PREFETCH_COMMAND} ...` (docs/cluster.md, \"Offline clusters\"); or let jobs download "
        "(export HF_HUB_OFFLINE=0)."
    )


def require_model(spec: str) -> None:
    """Offline, a hub model (or the hub base of a LoRA adapter) must be in the hub cache; a local
    folder is left to the loader. Costs a few file lookups, no torch and no network."""
    if not offline():
        return
    base = resolve_model(spec).base
    if not is_hub_model(base):
        return
    name, revision = split_revision(base)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot_download(name, revision=revision, local_files_only=True)
    except LocalEntryNotFoundError:
        raise not_in_cache(f"model{f' (revision {revision})' if revision else ''}", name, model_key(name),
                           hub_cache()) from None


def cached_commit(spec: str) -> str | None:
    """The commit of the hub cache's snapshot of ``spec`` (``owner/name[@revision]``), if cached."""
    name, revision = split_revision(spec)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, revision=revision, local_files_only=True)).name
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None


# ---------------------------------------------------------------- prefetch
def prefetch(models: Iterable[Mapping], sources: Iterable[Mapping], download_cache: str) -> list[str]:
    """Download every hub model (``{key, name, revision}``) and every hub or URL dataset source
    (``{key, path, config, configs, split, revision}``); return one line per item. Every item is
    tried; failures are reported together at the end (InputError), each with its config key."""
    from . import sources as fetch

    done, failed = [], []
    for model in models:
        try:
            folder = _fetch_model(model["name"], model.get("revision"))
            done.append(f"{model['key']}: {model['name']} -> {folder}")
        except Exception as e:  # noqa: BLE001 - reported with its key below
            failed.append(f"{model['key']}: {model['name']}: {_reason(e)}")
    for source in sources:
        try:
            where = fetch.fetch_source(source, download_cache, source["key"])
            done.append(f"{source['key']}: {source['path']} -> {where}")
        except InputError as e:  # names the source and its key already
            failed.append(str(e))
        except Exception as e:  # noqa: BLE001
            failed.append(f"{source['key']}: {source['path']}: {_reason(e)}")
    for line in done:
        log.info("prefetched %s", line)
    if failed:
        raise InputError(f"prefetch: {len(failed)} of {len(done) + len(failed)} downloads failed: "
                         + " | ".join(failed) + " | Gated models need their licence accepted and `hf auth login`.")
    return done


# Copies of the weights for other frameworks, never loaded here; *.bin and *.pt too when the repo
# has safetensors (Llama-2-70b-hf ships both: twice 130 GB).
OTHER_FORMATS = ("*.msgpack", "*.h5", "*.ot", "*.pth", "original/*")


def _fetch_model(name: str, revision: str | None) -> str:
    from huggingface_hub import HfApi, snapshot_download

    files = [s.rfilename for s in HfApi().model_info(name, revision=revision).siblings or []]
    ignore = list(OTHER_FORMATS)
    if any(f.endswith(".safetensors") for f in files):
        ignore += ["*.bin", "*.pt"]
    return snapshot_download(name, revision=revision, ignore_patterns=ignore)


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]
