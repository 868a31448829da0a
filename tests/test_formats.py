"""Dataset formats: a lab's own JSONL with its own field names becomes normalised rows from a
config entry only (format jsonl: a field mapping and an answer rule)."""

import copy
import json

import pytest
import yaml

from tests.conftest import ROOT
from w2s import data
from w2s.config import ConfigError, validate_config
from w2s.io import InputError

BASE = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def write(tmp_path, rows, name="raw.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {"path": str(path)}


def rule(**kw):
    return {"task": "gsm8k", "format": "jsonl", "fields": {"id": "uid", "question": "prompt", "answer": "final"},
            "answer_from": "field", **kw}


def test_field_mapping_and_answer_field(tmp_path):
    spec = write(tmp_path, [{"uid": "a1", "prompt": "What is 2+3?", "final": 5}, {"uid": "a2", "prompt": "1+1?", "final": "2"}])
    rows = data.normalise_split(rule(), spec, "train_1", "mine")
    assert rows[0] == {"id": "a1", "question": "What is 2+3?", "answer": "5", "solution": "#### 5"}
    assert rows[1]["answer"] == "2"


@pytest.mark.parametrize("answer_from, solution, expected", [
    ("boxed", "so x = \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"),
    ({"after": "=>"}, "2 + 3 = 5 => 5", "5"),
    ({"regex": r"answer is (\-?\d+)"}, "the answer is 4, no, the answer is 7", "7"),
    ({"regex": r"\d+$"}, "total 12", "12"),
])
def test_answer_rules_read_the_solution(tmp_path, answer_from, solution, expected):
    spec = write(tmp_path, [{"q": "Q?", "work": solution}])
    r = {"task": "math", "format": "jsonl", "fields": {"question": "q", "solution": "work"}, "answer_from": answer_from}
    (row,) = data.normalise_split(r, spec, "test", "mine")
    assert row["answer"] == expected and row["id"] == "row-0"
    assert row["solution"] == f"{solution} The answer is: {expected}"


@pytest.mark.parametrize("raw, message", [
    ({"uid": "1", "final": "3"}, "no question in field 'prompt'"),
    ({"uid": "1", "prompt": "Q?"}, "no final answer by answer_from 'field'"),
    ({"uid": "1", "prompt": ["Q?"], "final": "3"}, "field 'prompt' must be a string or a number, got list"),
])
def test_bad_rows_name_the_file_row_and_field(tmp_path, raw, message):
    spec = write(tmp_path, [raw])
    with pytest.raises(InputError, match=message) as err:
        data.normalise_split(rule(), spec, "train_2", "mine")
    assert f"{spec['path']}, row 1" in str(err.value)


def test_missing_file_names_the_config_key(tmp_path):
    with pytest.raises(InputError, match=r"datasets\.mine\.source\.test\.path"):
        data.normalise_split(rule(), {"path": str(tmp_path / "nope.jsonl")}, "test", "mine")


def check(dataset):
    cfg = copy.deepcopy(BASE)
    cfg["datasets"]["mine"] = {"source": {"train_2": {"path": "a"}, "test": {"path": "b"}}, **dataset}
    # The files "a" and "b" do not exist: only the dataset's format and fields are checked here.
    return validate_config(cfg, ROOT / "config" / "schema.yaml", check_paths=False)


def test_format_defaults_to_the_tasks_own():
    assert check({"task": "math"})["datasets"]["mine"]["format"] == "math"


@pytest.mark.parametrize("dataset, message", [
    ({"task": "gsm8k", "format": "jsonl"}, "datasets.mine.fields: format 'jsonl' needs it"),
    ({"task": "gsm8k", "fields": {"question": "q"}}, "datasets.mine.fields: only format jsonl takes a field mapping"),
    ({"task": "gsm8k", "format": "jsonl", "fields": {"question": "q"}, "answer_from": "field"},
     "datasets.mine.fields.answer: answer_from 'field' reads the answer field"),
    ({"task": "gsm8k", "format": "jsonl", "fields": {"question": "q", "solution": "s"}, "answer_from": {"regex": "("}},
     "datasets.mine.answer_from.regex: not a valid regular expression"),
    ({"task": "gsm8k", "format": "csv"}, "datasets.mine.format: 'csv' is not one of"),
    ({"task": "gsm8k", "format": "jsonl", "fields": {"question": "q", "answer": "a"}, "answer_from": "last"},
     "datasets.mine.answer_from"),
])
def test_config_errors_name_the_key(dataset, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        check(dataset)
