"""JSONL reading with validation, and atomic writes.

Every input file is untrusted: a malformed line must end the job with a message that names the
file, the line and what was expected, never a traceback from deep inside a library. Every output
is written to a temporary file in the same folder and renamed, so a killed job never leaves a file
that looks complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """A user-facing error about bad input: the message says where and what to do."""


def _type_name(types: type | tuple[type, ...]) -> str:
    types = types if isinstance(types, tuple) else (types,)
    names = {str: "string", int: "integer", float: "number", bool: "boolean", list: "list", dict: "object"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def iter_jsonl(path: str | os.PathLike, required: Mapping[str, type | tuple[type, ...]] | None = None) -> Iterator[dict]:
    """Yield the objects of a JSONL file, checking each line.

    ``required`` maps field names to the accepted Python type(s). Blank lines are skipped.
    Raises InputError naming file, line number and field on the first bad line.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found. Check the path in the config or run the rule that makes it.")
    required = required or {}
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(
                    f"{path}, line {lineno}: not valid JSON ({e.msg} at column {e.colno}). "
                    "Each line must be one complete JSON object; the file may be truncated."
                ) from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}, line {lineno}: expected a JSON object, got {type(obj).__name__}.")
            for field, types in required.items():
                if field not in obj:
                    raise InputError(
                        f"{path}, line {lineno}: missing field '{field}' (expected {_type_name(types)}). "
                        f"Fields present: {', '.join(sorted(obj)) or 'none'}."
                    )
                value = obj[field]
                ok_types = types if isinstance(types, tuple) else (types,)
                # bool is a subclass of int: do not let True pass for an integer field.
                if not isinstance(value, ok_types) or (isinstance(value, bool) and bool not in ok_types):
                    raise InputError(
                        f"{path}, line {lineno}: field '{field}' must be {_type_name(types)}, "
                        f"got {type(value).__name__} ({json.dumps(value)[:60]})."
                    )
            yield obj


def read_jsonl(
    path: str | os.PathLike,
    required: Mapping[str, type | tuple[type, ...]] | None = None,
    *,
    allow_empty: bool = False,
    unique: str | None = "id",
) -> list[dict]:
    """Read a whole JSONL file (see ``iter_jsonl``); reject empty files and duplicate ids."""
    rows = list(iter_jsonl(path, required))
    if not rows and not allow_empty:
        raise InputError(f"{path}: the file has no rows. An empty split cannot be used; check the source or the filter.")
    if unique:
        seen: dict[Any, int] = {}
        for i, row in enumerate(rows):
            key = row.get(unique)
            if key is None:
                continue
            if key in seen:
                raise InputError(
                    f"{path}: duplicate {unique} {json.dumps(key)} (rows {seen[key] + 1} and {i + 1}). "
                    f"Every row needs a distinct '{unique}'."
                )
            seen[key] = i
    return rows


def dumps(row: Mapping) -> str:
    """One canonical JSON line: stable key order is the caller's, unicode kept as is."""
    return json.dumps(row, ensure_ascii=False)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp makes the file private (0600); results are shared on a cluster: use the umask.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; it replaces ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_jsonl(path: str | os.PathLike, rows: Iterable[Mapping]) -> int:
    """Write rows atomically; return how many were written."""
    n = 0
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(dumps(row) + "\n")
            n += 1
    return n


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write one JSON document atomically, keys sorted so reruns give identical bytes."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found.") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}, line {e.lineno}: not valid JSON ({e.msg}).") from None
