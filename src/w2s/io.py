"""JSONL reading with validation, and atomic writes.

Every input file is untrusted: a malformed line must end the job with a message that names the
file, the line and what was expected, never a traceback from deep inside a library. Every output
is written to a temporary file in the same folder and renamed, so a killed job never leaves a file
that looks complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """A user-facing error about bad input: the message says where and what to do."""


# A field's expected type: a type, a tuple of types, or list[T] (a list whose elements are T).
FieldType = Any


def _type_name(types: FieldType) -> str:
    if getattr(types, "__origin__", None) is list:
        return f"list of {_type_name(types.__args__[0])}s"
    types = types if isinstance(types, tuple) else (types,)
    names = {str: "string", int: "integer", float: "number", bool: "boolean", list: "list", dict: "object"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _is_a(value, types: FieldType) -> bool:
    ok_types = types if isinstance(types, tuple) else (types,)
    # bool is a subclass of int: do not let True pass for an integer field.
    return isinstance(value, ok_types) and not (isinstance(value, bool) and bool not in ok_types)


def check_field(obj: dict, field: str, types: FieldType, where: str) -> None:
    """InputError naming ``where`` (file and line or row) and ``field`` unless ``obj[field]`` has the
    expected type; ``list[str]`` checks every element (``responses`` of stage II samples)."""
    if field not in obj:
        raise InputError(f"{where}: missing field '{field}' (expected {_type_name(types)}). "
                         f"Fields present: {', '.join(sorted(obj)) or 'none'}.")
    value = obj[field]
    if getattr(types, "__origin__", None) is list:
        if not isinstance(value, list):
            raise InputError(f"{where}: field '{field}' must be a {_type_name(types)}, got {type(value).__name__} "
                             f"({json.dumps(value)[:60]}).")
        for j, item in enumerate(value):
            if not _is_a(item, types.__args__[0]):
                raise InputError(f"{where}: field '{field}' must be a {_type_name(types)}; element {j} is "
                                 f"{type(item).__name__} ({json.dumps(item)[:60]}).")
        return
    if not _is_a(value, types):
        raise InputError(f"{where}: field '{field}' must be {_type_name(types)}, got {type(value).__name__} "
                         f"({json.dumps(value)[:60]}).")


def not_utf8(path: str | os.PathLike, data: bytes, error: UnicodeDecodeError, offset: int = 0,
             first_line: int = 1) -> InputError:
    """The message for bytes that are not UTF-8: file, line, column and byte offset in the file.

    ``data``: the bytes that were decoded, starting at byte ``offset`` (line ``first_line``) of the file."""
    at = offset + error.start
    line_start = data.rfind(b"\n", 0, error.start) + 1
    lineno = first_line + data.count(b"\n", 0, error.start)
    bad = data[error.start:error.start + 4]
    return InputError(f"{path}, line {lineno}: not UTF-8 text (byte {at} of the file, column {error.start - line_start + 1} "
                      f"of the line: {bad!r}). Save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8 IN > OUT).")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line; bytes that are not UTF-8 raise InputError with their place."""
    offset = 0
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise not_utf8(path, raw, e, offset, lineno) from None
            offset += len(raw)


def iter_jsonl(path: str | os.PathLike, required: Mapping[str, FieldType] | None = None) -> Iterator[dict]:
    """Yield the objects of a JSONL file, checking each line.

    ``required`` maps field names to the accepted Python type(s), or ``list[T]``. Blank lines are
    skipped. Raises InputError naming file, line number and field on the first bad line.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a JSONL file. Give the path of the file.")
    if not path.exists():
        raise InputError(f"{path}: file not found. Check the path (the config key or command-line argument that "
                         "gave it), or run the rule that makes it.")
    required = required or {}
    for lineno, line in _lines(path):
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
            check_field(obj, field, types, f"{path}, line {lineno}")
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


def require_ids(questions: Iterable[Mapping], rows: Iterable[Mapping], rows_name: str, questions_name: str,
                what: str = "answer") -> None:
    """Every question's id must have a row in ``rows``; else InputError naming the file (``rows_name``)
    and the first missing ids, instead of a KeyError later."""
    have = {r["id"] for r in rows}
    questions = list(questions)
    missing = [q["id"] for q in questions if q["id"] not in have]
    if missing:
        raise InputError(
            f"{rows_name}: no {what} for {len(missing)} of the {len(questions)} questions in {questions_name} (first "
            f"missing ids: {', '.join(map(repr, missing[:5]))}). Give the file made for these questions (or rerun the "
            "step that made it)."
        )


def dumps(row: Mapping) -> str:
    """One canonical JSON line: stable key order is the caller's, unicode kept as is."""
    return json.dumps(row, ensure_ascii=False)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(f"{path}: cannot write it there: a part of {path.parent} is a file, not a folder.") from None


def output_file(path: str | os.PathLike) -> Path:
    """An output file's path, its folder made; InputError when the path is a folder (or under a file)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; the output must be a file path (e.g. {path / 'out.jsonl'}).")
    _make_parent(path)
    return path


def make_dir(path: str | os.PathLike) -> Path:
    """An output folder (made if missing); InputError when the path is a file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: is a file; the output must be a folder path (remove the file or give another path).")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(f"{path}: cannot make this folder: a part of {path.parent} is a file.") from None
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = output_file(path)
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
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: is a file; the output must be a folder path (remove the file or give another path).")
    _make_parent(path)
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


def read_text(path: str | os.PathLike) -> str:
    """A whole text file; InputError for a missing file, a folder, or bytes that are not UTF-8."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file. Give the path of the file.")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found.") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise not_utf8(path, data, e) from None


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        if looks_like_jsonl(text):
            raise InputError(f"{path}: holds JSON Lines (one object per line; line 1: {text.splitlines()[0][:80]}), "
                             "not one JSON document. Rename it to .jsonl, or write it as one JSON list.") from None
        raise InputError(f"{path}, line {e.lineno}: not valid JSON ({e.msg} at column {e.colno}).") from None


def looks_like_jsonl(text: str) -> bool:
    """Whether ``text`` is two or more lines that are each a JSON object (JSON Lines)."""
    lines = [line for line in text.splitlines()[:5] if line.strip()]
    if len(lines) < 2:
        return False
    try:
        return all(isinstance(json.loads(line), dict) for line in lines)
    except json.JSONDecodeError:
        return False


def sha256_file(path: str | Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
