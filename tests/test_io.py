import json

import pytest

from w2s.io import InputError, atomic_dir, read_jsonl, write_jsonl


def write(tmp_path, text):
    p = tmp_path / "x.jsonl"
    p.write_text(text)
    return p


def test_truncated_line(tmp_path):
    p = write(tmp_path, '{"id": "a", "question": "q"}\n{"id": "b", "ques')
    with pytest.raises(InputError, match=r"x.jsonl, line 2: not valid JSON"):
        read_jsonl(p)


def test_missing_field_and_wrong_type(tmp_path):
    p = write(tmp_path, '{"id": "a"}\n')
    with pytest.raises(InputError, match="line 1: missing field 'question' \\(expected string\\)"):
        read_jsonl(p, {"id": str, "question": str})
    p = write(tmp_path, '{"id": "a", "question": 3}\n')
    with pytest.raises(InputError, match="field 'question' must be string, got int"):
        read_jsonl(p, {"id": str, "question": str})
    p = write(tmp_path, '{"id": "a", "correct": 1}\n')
    with pytest.raises(InputError, match="must be boolean"):
        read_jsonl(p, {"correct": bool})


def test_empty_file_and_duplicates(tmp_path):
    with pytest.raises(InputError, match="has no rows"):
        read_jsonl(write(tmp_path, "\n"))
    assert read_jsonl(write(tmp_path, ""), allow_empty=True) == []
    with pytest.raises(InputError, match='duplicate id "a" \\(rows 1 and 2\\)'):
        read_jsonl(write(tmp_path, '{"id": "a"}\n{"id": "a"}\n'))


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"

    def rows():
        yield {"a": 1}
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        write_jsonl(target, rows())
    assert list(tmp_path.iterdir()) == []
    write_jsonl(target, [{"a": "é"}])
    assert json.loads(target.read_text()) == {"a": "é"}


def test_atomic_dir_replaces_only_on_success(tmp_path):
    target = tmp_path / "model"
    with atomic_dir(target) as tmp:
        (tmp / "w").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "w").write_text("2")
            raise RuntimeError
    assert (target / "w").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_outputs_are_readable_by_others(tmp_path):
    # mkstemp would leave 0600: results on a shared filesystem must follow the umask.
    import os

    old = os.umask(0o022)
    try:
        write_jsonl(tmp_path / "a.jsonl", [{"a": 1}])
        with atomic_dir(tmp_path / "d") as tmp:
            (tmp / "w").write_text("1")
    finally:
        os.umask(old)
    assert (tmp_path / "a.jsonl").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
