"""One error style for a user's input mistakes (file, line or row, key or field, what to do), and no
traceback: the `w2s` command, the data normaliser and the JSON/JSONL readers."""

import json
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from w2s import cli
from w2s.data import normalise_split
from w2s.io import InputError, read_jsonl


def run_cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def lines(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# ----------------------------------------------------------------------------- config files
def test_check_config_names_file_line_and_column_of_a_yaml_mistake(tmp_path, capsys):
    bad = tmp_path / "overlay.yaml"
    bad.write_text("experiments:\n  toy:\n    stage2: {tau: 0.5\n")
    code, out = run_cli(capsys, "check-config", ROOT / "config/config.yaml", bad)
    assert code == 2
    assert f"w2s check-config: error: {bad}:4:1: YAML syntax error: expected ',' or '}}', but got '<stream end>' " \
           "(while parsing a flow mapping, line 3)" in out
    assert "Fix the file: indent with spaces (no tabs)" in out and "Traceback" not in out


def test_check_config_names_a_tab_indent(tmp_path, capsys):
    bad = tmp_path / "tabs.yaml"
    bad.write_text("experiments:\n\ttoy: {}\n")
    code, out = run_cli(capsys, "check-config", ROOT / "config/config.yaml", bad)
    assert code == 2 and f"{bad}:2:1: YAML syntax error: found character '\\t' that cannot start any token" in out


def test_check_config_wants_a_mapping(tmp_path, capsys):
    bad = tmp_path / "list.yaml"
    bad.write_text("- seeds: [0]\n")
    code, out = run_cli(capsys, "check-config", bad)
    assert code == 2 and f"{bad}: a config file is a mapping of keys (datasets:, models:, ...), got a list" in out


# ----------------------------------------------------------------------------- bytes that are not UTF-8
def latin1_file(path):
    content = ('{"id": "1", "question": "q", "answer": "x #### 1"}\n'
               '{"id": "2", "question": "caf\xe9?", "answer": "x #### 2"}\n').encode("latin-1")
    path.write_bytes(content)
    line_start = content.index(b"\n") + 1
    return path, content.index(b"\xe9"), content.index(b"\xe9") - line_start + 1


def test_non_utf8_dataset_names_file_line_and_byte_offset(tmp_path):
    path, offset, column = latin1_file(tmp_path / "train_2.jsonl")
    with pytest.raises(InputError) as err:
        normalise_split("gsm8k", {"path": str(path)}, "train_2", "mine")
    assert str(err.value).startswith(f"{path}, line 2: not UTF-8 text (byte {offset} of the file, column {column} of "
                                     "the line: b'\\xe9?\",'). Save the file as UTF-8")


def test_non_utf8_grade_input(tmp_path, capsys):
    path = tmp_path / "answers.jsonl"
    content = b'{"response": "#### 1", "gold": "1"}\n{"response": "#### 2 \xff", "gold": "2"}\n'
    path.write_bytes(content)
    offset = content.index(b"\xff")
    code, out = run_cli(capsys, "grade", "--task", "gsm8k", path, tmp_path / "graded.jsonl")
    assert code == 2
    assert f"w2s grade: error: {path}, line 2: not UTF-8 text (byte {offset} of the file, column 22 of the line: b'\\xff\", '" in out
    assert "Traceback" not in out


def test_non_utf8_json_file_names_its_line(tmp_path):
    path = tmp_path / "rows.json"
    content = '[\n {"question": "a"},\n {"question": "\xe9"}\n]\n'.encode("latin-1")
    path.write_bytes(content)
    offset = content.index(b"\xe9")
    with pytest.raises(InputError, match=f"line 3: not UTF-8 text \\(byte {offset} of the file"):
        normalise_split("gsm8k", {"path": str(path)}, "test", "mine")


# ----------------------------------------------------------------------------- files that hold JSON Lines
GSM8K_ROWS = [{"id": f"q{i}", "question": f"What is {i} + 1?", "answer": f"{i} + 1 = {i + 1}\n#### {i + 1}"}
              for i in range(3)]


def test_a_json_file_holding_jsonl_says_so(tmp_path):
    path = lines(tmp_path / "test.json", GSM8K_ROWS)
    with pytest.raises(InputError) as err:
        normalise_split("gsm8k", {"path": str(path)}, "test", "mine")
    assert str(err.value) == (
        f'{path}: holds JSON Lines (one object per line; line 1: {json.dumps(GSM8K_ROWS[0])[:80]}), not one JSON '
        "document. Rename it to .jsonl, or write it as one JSON list. (datasets.mine.source.test.path)")


def test_a_parquet_file_holding_jsonl_says_so(tmp_path):
    path = lines(tmp_path / "test.parquet", GSM8K_ROWS)
    with pytest.raises(InputError, match=f"{path}: not a Parquet file: it holds JSON Lines \\(one object per line\\), "
                                         "starting '{\"id\": \"q0\".*\\(datasets.mine.source.test.path\\). Rename it to "
                                         "\\.jsonl"):
        normalise_split("gsm8k", {"path": str(path)}, "test", "mine")


def test_a_folder_as_a_dataset_source(tmp_path):
    with pytest.raises(InputError, match=f"dataset source '{tmp_path}': is a folder, not a file. Give the file "
                                         "\\(datasets.mine.source.test.path\\)"):
        normalise_split("gsm8k", {"path": str(tmp_path)}, "test", "mine")


# ----------------------------------------------------------------------------- messages name real keys
def test_a_missing_question_points_to_the_fields_key(tmp_path):
    path = lines(tmp_path / "train_2.jsonl", [{"id": "1", "problem": "q", "answer": "x #### 1"}])
    with pytest.raises(InputError) as err:
        normalise_split("gsm8k", {"path": str(path)}, "train_2", "mine")
    message = str(err.value)
    assert message.startswith(f"{path}, row 1: no non-empty text in any of the fields question (fields present: "
                              "answer, id, problem). This format reads those fields; for rows with other field names "
                              "set the dataset's format: jsonl and name them in its fields (datasets.<name>.fields).")
    assert message.endswith("(dataset source: datasets.mine.source.train_2.path)")
    assert "field mapping" not in message and ".splits" not in message


def test_a_mapped_dataset_names_its_fields_key(tmp_path):
    path = lines(tmp_path / "train_2.jsonl", [{"uid": "1", "final": 3}])
    rule = {"task": "gsm8k", "format": "jsonl", "fields": {"id": "uid", "question": "problem", "answer": "final"},
            "answer_from": "field"}
    with pytest.raises(InputError, match="row 1: no question in field 'problem' \\(fields present: final, uid\\). Check "
                                         "datasets.lab.fields.question."):
        normalise_split(rule, {"path": str(path)}, "train_2", "lab")


# ----------------------------------------------------------------------------- the w2s command
def test_grade_into_a_folder_is_a_message(tmp_path, capsys):
    answers = lines(tmp_path / "answers.jsonl", [{"response": "#### 1", "gold": "1"}])
    (tmp_path / "some_dir").mkdir()
    code, out = run_cli(capsys, "grade", "--task", "gsm8k", answers, tmp_path / "some_dir")
    assert code == 2
    assert f"w2s grade: error: {tmp_path / 'some_dir'}: is a folder; the output must be a file path (e.g. " \
           f"{tmp_path / 'some_dir' / 'out.jsonl'})." in out


def stage_files(tmp_path, weak_ids=("q0", "q1", "q2"), responses=None):
    questions = lines(tmp_path / "train_2.jsonl", [{"id": f"q{i}", "question": f"What is {i} + 1?"} for i in range(3)])
    weak = lines(tmp_path / "weak.jsonl", [{"id": i, "response": "#### 1"} for i in weak_ids])
    icl = lines(tmp_path / "icl.jsonl", [{"id": f"q{i}", "response": "#### 1"} for i in range(3)])
    samples = lines(tmp_path / "samples.jsonl", [{"id": f"q{i}", "responses": responses or ["#### 1", "#### 2"]}
                                                 for i in range(3)])
    return questions, weak, icl, samples


def test_filter_names_the_file_with_missing_ids(tmp_path, capsys):
    questions, weak, icl, _ = stage_files(tmp_path, weak_ids=("q0",))
    code, out = run_cli(capsys, "filter", "--task", "gsm8k", questions, weak, icl, tmp_path / "out")
    assert code == 2
    assert f"w2s filter: error: {weak}: no answer for 2 of the 3 questions in {questions} (first missing ids: 'q1', " \
           "'q2'). Give the file made for these questions" in out


def test_mine_pairs_names_the_file_with_missing_ids(tmp_path, capsys):
    questions, weak, _, samples = stage_files(tmp_path, weak_ids=("q0", "q2"))
    code, out = run_cli(capsys, "mine-pairs", "--task", "gsm8k", questions, weak, samples, tmp_path / "out")
    assert code == 2
    assert f"w2s mine-pairs: error: {weak}: no answer for 1 of the 3 questions in {questions} (first missing ids: " \
           "'q1')" in out


def test_samples_must_be_lists_of_strings(tmp_path, capsys):
    questions, weak, _, samples = stage_files(tmp_path, responses=[7, "#### 1"])
    code, out = run_cli(capsys, "mine-pairs", "--task", "gsm8k", questions, weak, samples, tmp_path / "out")
    assert code == 2
    assert f"w2s mine-pairs: error: {samples}, line 1: field 'responses' must be a list of strings; element 0 is " \
           "int (7)." in out


def test_an_output_folder_that_is_a_file(tmp_path, capsys):
    questions, weak, icl, _ = stage_files(tmp_path)
    taken = tmp_path / "taken"
    taken.write_text("")
    code, out = run_cli(capsys, "filter", "--task", "gsm8k", questions, weak, icl, taken)
    assert code == 2 and f"{taken}: is a file; the output must be a folder path" in out


def test_grade_workers_are_checked_against_the_schema(capsys):
    with pytest.raises(SystemExit) as err:
        cli.build_parser().parse_args(["grade", "--task", "gsm8k", "--workers", "0", "in", "out"])
    assert err.value.code == 2
    assert "argument --workers: 0 is less than the minimum of 1 (allowed: >= 1; config key grading.workers)" \
        in capsys.readouterr().err


def test_missing_field_names_file_and_line(tmp_path):
    path = lines(tmp_path / "x.jsonl", [{"id": "a", "responses": "#### 1"}])
    with pytest.raises(InputError, match=f"{path}, line 1: field 'responses' must be a list of strings, got str"):
        read_jsonl(path, {"id": str, "responses": list[str]})


# ----------------------------------------------------------------------------- w2s grade with the wrong task
# GSM8K rows (solution as the gold, as in GSM8K's own files): long letter runs made the unit-word
# rule of the normaliser backtrack for minutes on one row.
SOLUTION = ("First find the total number of snakes eaten: 5 snakes/jaguar * 6 jaguars = <<5*6=30>>30 snakes\n"
            "Then find the total number of birds eaten per day: 30 snakes * 3 birds/snake = <<30*3=90>>90 snakes\n"
            "Then multiply the number of snakes by the number of beetles per snake to find the total number of "
            "beetles eaten per day: 90 snakes * 12 beetles/snake = <<90*12=1080>>1080 beetles\n#### 1080")


def test_grade_with_the_wrong_task_warns_first_and_finishes(tmp_path):
    rows = [{"id": str(i), "response": SOLUTION, "gold": SOLUTION} for i in range(20)]
    answers = lines(tmp_path / "answers.jsonl", rows)
    started = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "w2s.cli", "grade", "--task", "math", str(answers),
                          str(tmp_path / "graded.jsonl")], capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    assert res.returncode == 0, res.stderr
    warning, summary = res.stderr.strip().splitlines()[:2]
    assert warning.startswith("w2s grade --task math: warning: 20 of the first 20 golds do not look like math final "
                              "answers (row 1: it holds '####', the gsm8k answer key: 'First find the total")
    assert warning.endswith("so they grade as wrong. They look like gsm8k golds: --task gsm8k?")
    assert summary.startswith("w2s grade --task math: 0/20 correct")
    assert took < 30, f"{took:.1f} s for 20 rows"


def test_grade_with_the_right_task_does_not_warn(tmp_path):
    answers = lines(tmp_path / "answers.jsonl", [{"response": SOLUTION, "gold": SOLUTION}, {"response": "#### 3",
                                                                                              "gold": "3"}])
    res = subprocess.run([sys.executable, "-m", "w2s.cli", "grade", "--task", "gsm8k", str(answers),
                          str(tmp_path / "graded.jsonl")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "warning" not in res.stderr and "2/2 correct" in res.stderr
