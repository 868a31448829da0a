"""Raw rows of a dataset source, and a record of what was read.

A source (``datasets.<d>.source.<split>``) is ``{"path": ..., config, configs, split, revision}``:

- a local ``.jsonl`` / ``.json`` (one list of objects) / ``.parquet`` file: an input of the data
  rules, so an edit reruns them and what follows;
- an ``http(s)://`` URL of one: downloaded once into the workflow's download cache
  (``DOWNLOAD_CACHE``, one file per URL, ``url_cache_file``) by ``snakemake prefetch``, or by
  the local rule ``download_dataset_file`` when jobs may go online (``HF_HUB_OFFLINE=0``); the
  data jobs read the cached file, an input of theirs;
- ``hf://owner/name``: a dataset of the Hugging Face hub, through the datasets library and its
  cache (``config`` or ``configs``, ``split``, ``revision``).

``load_source(..., record=...)`` fills ``record`` with the path, the sha256 of the bytes read
(local files and URLs) and, for hub datasets, the commit the datasets library loaded; the data
rules write it as ``<split>.source.json`` beside the normalised split.
"""

from __future__ import annotations

import hashlib
import re
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from .io import InputError, iter_jsonl, looks_like_jsonl, read_json, sha256_file

# Relative to the working directory, like results/.
DOWNLOAD_CACHE = ".cache/w2s-downloads"
URL_PREFIXES = ("http://", "https://")
REMOTE_PREFIXES = ("hf://", *URL_PREFIXES)


def is_local_source(path: str) -> bool:
    return not str(path).startswith(REMOTE_PREFIXES)


def is_url_source(path: str) -> bool:
    """An http(s) source: a local job downloads it into the cache (``url_cache_file``)."""
    return str(path).startswith(URL_PREFIXES)


# A URL whose host and path are made of these characters is cached under that host and path, so a
# dry run's `download_dataset_file` jobs show what is fetched (host, repository, pinned commit).
_READABLE_URL = re.compile(r"https?://([A-Za-z0-9.-]+(?::[0-9]+)?)/([A-Za-z0-9._~/+-]+)")


def url_cache_file(url: str, cache_dir: str | Path | None = None) -> Path:
    """The download cache's file for ``url``: ``<cache>/<host>/<path>`` for a plain URL, otherwise
    ``<cache>/_hashed/<hash of the URL><suffix>`` (query strings, odd characters, ``..``)."""
    cache = Path(cache_dir or DOWNLOAD_CACHE)
    m = _READABLE_URL.fullmatch(url)
    if m and ".." not in m.group(2).split("/") and not m.group(2).endswith("/"):
        return cache / m.group(1).replace(":", "_") / m.group(2)
    suffix = Path(url.split("?")[0]).suffix or ".jsonl"
    return cache / "_hashed" / (hashlib.sha256(url.encode()).hexdigest()[:16] + suffix)


def download_url(url: str, cache_dir: str | Path | None = None, key: str = "datasets.<name>.source.<split>.path",
                 allow_download: bool | None = None) -> Path:
    """``url``'s file in the download cache, downloaded first if missing (unless jobs are offline)."""
    from . import hub

    local = url_cache_file(url, cache_dir)
    if local.is_file():
        return local
    if allow_download is False or (allow_download is None and hub.offline()):
        raise hub.not_in_cache("dataset file", url, key, str(Path(cache_dir or DOWNLOAD_CACHE).resolve()))
    local.parent.mkdir(parents=True, exist_ok=True)
    tmp = local.with_suffix(local.suffix + ".part")
    try:
        urllib.request.urlretrieve(url, tmp)  # noqa: S310 - the URL comes from the user's config
    except (urllib.error.URLError, OSError) as e:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{url}: download failed ({getattr(e, 'reason', e)}) ({key}). Check the URL and the "
                         "network; on a machine without network, run `snakemake prefetch` where there is one.") from None
    tmp.replace(local)
    return local


def load_source(spec: dict, cache_dir: str | Path | None = None, key: str = "datasets.<name>.source.<split>.path",
                record: dict | None = None) -> Iterable[dict]:
    """Raw rows of one split source; ``key``: the config key that gave the path, for messages;
    ``record``: filled with what was read (module docstring)."""
    record = {} if record is None else record
    path = spec["path"]
    record["path"] = path
    if path.startswith("hf://"):
        yield from _load_hf(spec, key, record)
        return
    if is_url_source(path):
        local = download_url(path, cache_dir, key)
        record.update(sha256=sha256_file(local), downloaded_to=str(local))
        yield from _load_file(local, key)
        return
    local = Path(path)
    if not local.exists():
        raise InputError(f"dataset source '{path}': file not found. Fix the path in the config ({key}).")
    if local.is_file():
        record["sha256"] = sha256_file(local)
    yield from _load_file(local, key)


def _hf_builders(spec: dict, key: str):
    """One datasets builder per config of an hf:// source (offline: from the cache, or NotInCache)."""
    import datasets

    from . import hub

    name = spec["path"][len("hf://"):]
    for config in spec.get("configs") or [spec.get("config")]:
        try:
            yield datasets.load_dataset_builder(name, config, revision=spec.get("revision"))
        except (ConnectionError, FileNotFoundError, datasets.exceptions.DatasetNotFoundError) as e:
            if hub.offline():
                raise hub.not_in_cache("dataset", f"{name}{f' ({config})' if config else ''}", key,
                                       hub.datasets_cache()) from None
            raise InputError(f"{spec['path']}: cannot load it ({type(e).__name__}: {str(e).splitlines()[0]}) ({key}).") \
                from None


def _load_hf(spec: dict, key: str, record: dict) -> Iterable[dict]:
    split = spec.get("split", "train")
    record.update(split=split, revision=spec.get("revision"), commits={})
    for builder in _hf_builders(spec, key):
        builder.download_and_prepare()
        record["commits"][builder.config.name] = builder.hash  # the dataset repository's commit
        yield from builder.as_dataset(split=split)


def fetch_source(spec: dict, cache_dir: str | Path | None = None, key: str = "datasets.<name>.source.<split>.path") -> str:
    """Download a hub or URL source into its cache (``snakemake prefetch``); return where it is."""
    if spec["path"].startswith("hf://"):
        where = []
        for builder in _hf_builders(spec, key):
            builder.download_and_prepare()
            where.append(f"{builder.cache_dir} (commit {builder.hash})")
        return ", ".join(where)
    return str(download_url(spec["path"], cache_dir, key, allow_download=True))


def _load_file(path: Path, key: str) -> Iterable[dict]:
    """Raw rows of a local .parquet, .json (one list of objects) or JSON Lines file (any other name)."""
    if path.is_dir():
        raise InputError(f"dataset source '{path}': is a folder, not a file. Give the file ({key}).")
    if path.suffix == ".parquet":
        yield from _load_parquet(path, key)
    elif path.suffix == ".json":
        try:
            data = read_json(path)
        except InputError as e:
            raise InputError(f"{e} ({key})") from None
        if not isinstance(data, list):
            raise InputError(f"{path}: a .json source must hold a list of objects, got {type(data).__name__} ({key}).")
        yield from data
    else:
        yield from iter_jsonl(path)


def _load_parquet(path: Path, key: str) -> Iterable[dict]:
    with path.open("rb") as f:
        head = f.read(4)
    if head != b"PAR1":
        start = path.read_bytes()[:200].decode("utf-8", errors="replace")
        what = ("JSON Lines (one object per line)" if looks_like_jsonl(path.read_text(encoding="utf-8", errors="replace"))
                else "JSON" if start.lstrip().startswith(("{", "[")) else "no Parquet header")
        raise InputError(f"{path}: not a Parquet file: it holds {what}, starting {start.splitlines()[0][:60]!r} ({key}). "
                         "Rename it to .jsonl (JSON Lines) or .json (one JSON list), or write real Parquet.")
    import polars as pl

    try:
        frame = pl.read_parquet(path)
    except pl.exceptions.PolarsError as e:
        raise InputError(f"{path}: cannot read it as Parquet ({str(e).splitlines()[0]}) ({key}).") from None
    yield from frame.iter_rows(named=True)
