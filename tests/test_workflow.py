"""The workflow as a user runs it: dry runs, config errors, bad inputs, and (slow) the whole tiny
default end to end with partial-rerun checks on its finished results."""

import csv
import json
import re
import subprocess
from pathlib import Path

import pytest

import yaml

from tests.conftest import ROOT, run_snakemake
from w2s import registry
from w2s.config import merge_overlays, validate_config

SCHEMA = ROOT / "config" / "schema.yaml"


def dry_run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_snakemake(workdir, "-n", *args, timeout=120)


def jobs_listed(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> count."""
    stats = {}
    block = output.split("Job stats:", 1)
    if len(block) < 2:
        return stats
    for line in block[1].splitlines()[3:]:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not m:
            break
        stats[m.group(1)] = int(m.group(2))
    return stats


def write_overlay(workdir: Path, name: str, text: str) -> str:
    path = workdir / name
    path.write_text(text)
    return str(path)


def default_experiment() -> dict:
    """The tiny default's experiment as the workflow sees it (validated, defaults filled)."""
    cfg = validate_config(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()), SCHEMA)
    (exp,) = cfg["experiments"].values()
    return exp


# ----------------------------------------------------------------------------- fast checks
def test_dry_run_lists_every_stage(workflow_copy):
    res = dry_run(workflow_copy)
    assert res.returncode == 0, res.stderr
    stats = jobs_listed(res.stdout)
    n_pref = len(default_experiment()["stage2"]["methods"])
    expected = {"build_toy_data": 1, "train_toy_tokenizer": 1, "pretrain_toy_model": 2, "build_toy_graded_test": 1,
                "prepare_train_2": 1, "prepare_test": 1, "prepare_train_1": 1, "train_weak_sft": 1,
                "answer_train_2": 4, "sample_demonstrations": 1,
                "consistency_filter": 2, "build_full_weak_set": 1, "build_ceiling_set": 1,
                # 3 variants x 2 iterations + full weak FT + ceiling
                "train_strong_sft": 8, "sample_answers": 1, "mine_pairs": 1, "train_preference": n_pref,
                # weak floor, weak-ICL, full weak, 6 iteration models, each stage II method, ceiling
                "evaluate": 10 + n_pref, "grade_samples": 1}
    for rule, count in expected.items():
        assert stats.get(rule) == count, (rule, stats)


def test_each_seed_is_a_run_with_its_own_toy_world(workflow_copy):
    overlay = write_overlay(workflow_copy, "seeds.yaml", "seeds: [0, 1]\n")
    res = dry_run(workflow_copy, "--configfile", "config/config.yaml", overlay)
    assert res.returncode == 0, res.stderr
    stats = jobs_listed(res.stdout)
    # The toy source follows the seed, so its data rules run per seed too; one table per experiment.
    n_pref = len(default_experiment()["stage2"]["methods"])
    for rule, count in {"build_toy_data": 2, "pretrain_toy_model": 4, "build_toy_graded_test": 2, "prepare_train_2": 2,
                        "prepare_test": 2, "train_strong_sft": 16,
                        "evaluate": 2 * (10 + n_pref), "train_preference": 2 * n_pref, "make_tables": 1}.items():
        assert stats.get(rule) == count, (rule, stats)
    for seed in (0, 1):
        assert f"results/toy_world/seed{seed}/models/toy-strong" in res.stdout
        assert f"results/data/toy/seed{seed}/train_2.jsonl" in res.stdout
        assert f"results/toy/seed{seed}/toy-weak/eval/iter2-hybrid/toy.metrics.json" in res.stdout
        assert f"results/toy/seed{seed}/ceiling/models/ceiling" in res.stdout



def job_threads(dry_run_output: str, rule: str) -> dict[str, int]:
    """wildcards -> threads of each job of ``rule`` a dry run lists (Snakemake leaves out ``threads: 1``)."""
    found = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", dry_run_output):
        if re.match(rf"(?:local)?rule {rule}:\n", block):
            wildcards = re.search(r"^\s+wildcards: (.*)$", block, flags=re.M).group(1)
            threads = re.search(r"^\s+threads: (\d+)$", block, flags=re.M)
            found[wildcards] = int(threads.group(1)) if threads else 1
    return found


def test_strong_pretraining_takes_both_cores_in_a_one_seed_run_only(workflow_copy):
    # One seed: the strong toy model's pretraining is the critical path (2 threads, bit-identical
    # weights); config/toy-seeds.yaml's seeds fill the cores, so there each pretraining takes one.
    res = dry_run(workflow_copy, "--cores", "2")
    assert res.returncode == 0, res.stderr
    assert job_threads(res.stdout, "pretrain_toy_model") == {
        "seed=0, toymodel=toy-strong": 2, "seed=0, toymodel=toy-weak": 1}
    res = dry_run(workflow_copy, "--cores", "2", "--configfile", "config/config.yaml", "config/toy-seeds.yaml")
    assert res.returncode == 0, res.stderr
    threads = job_threads(res.stdout, "pretrain_toy_model")
    assert len(threads) == 6 and set(threads.values()) == {1}, threads

NEW_METHOD = """\
experiments:
  toy:
    stage2:
      methods:
        ipo-run:
          trainer: dpo
          loss_type: ipo
          method: full
          beta: 0.5
        orpo: null
"""


def merged_config(*texts: str) -> dict:
    """Config files merged as Snakemake merges --configfile overlays, then validated."""
    return validate_config(merge_overlays(*map(yaml.safe_load, texts)), SCHEMA)


def test_a_preference_method_is_a_config_entry(workflow_copy):
    """A new stage II method by config only: its training and evaluation jobs and its table row
    appear; `name: null` removes a method."""
    overlay = write_overlay(workflow_copy, "new-method.yaml", NEW_METHOD)
    res = dry_run(workflow_copy, "--configfile", "config/config.yaml", overlay)
    assert res.returncode == 0, res.stderr
    exp = merged_config((workflow_copy / "config/config.yaml").read_text(), NEW_METHOD)["experiments"]["toy"]
    expected = list(exp["stage2"]["methods"])
    assert "ipo-run" in expected and "orpo" not in expected
    trained = set(re.findall(r"output: results/toy/seed0/toy-weak/models/([\w.-]+)/w2s_training.json\n", res.stdout))
    evaluated = set(re.findall(r"results/toy/seed0/toy-weak/eval/([\w.-]+)/toy.metrics.json", res.stdout))
    assert {m for m in trained if not m.startswith(("iter", "full_weak"))} == set(expected)
    assert set(expected) <= evaluated and "orpo" not in evaluated
    rows = registry.table_methods(exp)
    assert [r["key"] for r in rows if r["stage"] == "stage II"] == expected
    assert next(r for r in rows if r["key"] == "ipo-run")["label"] == "IPO"
    assert rows[-1]["key"] == "ceiling"


def test_example_adds_rpo_and_simpo(workflow_copy):
    res = dry_run(workflow_copy, "--configfile", "config/config.yaml", "config/examples/toy-rpo-simpo.yaml")
    assert res.returncode == 0, res.stderr
    for method in ("rpo", "simpo"):
        assert f"results/toy/seed0/toy-weak/eval/{method}/toy.metrics.json" in res.stdout


# snakemake --lint and snakefmt --check: tests/test_catalog.py (the workflow catalog's checks).


@pytest.mark.parametrize(
    "overlay, message",
    [
        ("experiments:\n  toy:\n    stage2:\n      tau: 1.5\n", "config error at experiments.toy.stage2.tau: 1.5 is greater than the maximum of 1"),
        ("experiments:\n  toy:\n    dataset: gsm9k\n", "config error at experiments.toy.dataset: unknown dataset 'gsm9k'"),
    ],
)
def test_bad_config_fails_before_any_job(workflow_copy, overlay, message):
    res = dry_run(workflow_copy, "--configfile", "config/config.yaml", write_overlay(workflow_copy, "bad.yaml", overlay))
    assert res.returncode != 0
    assert message in res.stdout + res.stderr


def test_yaml_mistake_in_the_default_config_names_file_line_and_column(workflow_copy):
    config = workflow_copy / "config/config.yaml"
    text = config.read_text()
    line = text[:text.index("  mode: equivalence\n")].count("\n") + 1
    config.write_text(text.replace("  mode: equivalence\n", "  mode: [equivalence\n", 1))
    res = dry_run(workflow_copy)
    assert res.returncode != 0
    assert f"error: config/config.yaml:{line + 1}:10: YAML syntax error: expected ',' or ']', but got ':' (while " \
           f"parsing a flow sequence, line {line}). Fix the file" in res.stderr
    assert "Traceback" not in res.stderr and 'File "' not in res.stderr


def test_yaml_mistake_in_an_overlay_gets_snakemakes_own_message(workflow_copy):
    """Snakemake reads --configfile overlays before any workflow code: its message names no file
    (a known limitation, README "Configuration"); `w2s check-config` names the place."""
    overlay = write_overlay(workflow_copy, "bad.yaml", "experiments:\n  toy:\n    stage2: {tau: 0.5\n")
    res = dry_run(workflow_copy, "--configfile", "config/config.yaml", overlay)
    assert res.returncode != 0 and "Config file is not valid JSON or YAML" in res.stdout + res.stderr


def test_config_errors_come_without_a_traceback(workflow_copy):
    overlay = write_overlay(workflow_copy, "bad.yaml", "models:\n  toy-strong:\n    toy: {hiden: 128}\n")
    res = dry_run(workflow_copy, "--configfile", "config/config.yaml", overlay)
    assert res.returncode != 0
    assert "error: config error at models.toy-strong.toy: Additional properties are not allowed ('hiden' was " \
           "unexpected)" in res.stderr
    assert "Traceback" not in res.stderr and 'File "' not in res.stderr


BAD_INPUTS = {
    "truncated": ('{"id": "1", "question": "q", "answer": "x #### 1"}\n{"id": "2", "quest', "line 2: not valid JSON"),
    "no_question": ('{"id": "1", "answer": "x #### 1"}\n', "no non-empty text in any of the fields question"),
    "wrong_type": ('{"id": "1", "question": ["q"], "answer": "x #### 1"}\n', "row 1: field 'question' must be a string, got list"),
    "empty": ("", "is empty after normalisation"),
    "not_utf8": ('{"id": "1", "question": "caf\xe9?", "answer": "x #### 1"}\n'.encode("latin-1"),
                 "line 1: not UTF-8 text (byte 28 of the file, column 29 of the line"),
    "jsonl_as.json": ('{"id": "1", "question": "q", "answer": "x #### 1"}\n{"id": "2", "question": "r", "answer": "y #### 2"}\n',
                      "holds JSON Lines (one object per line"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_malformed_dataset_file_names_file_and_line(workflow_copy, case):
    content, message = BAD_INPUTS[case]
    bad = workflow_copy / (case if "." in case else f"{case}.jsonl")
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    good = ROOT.parent / "shared" / "data" / "gsm8k" / "test.jsonl"
    if not good.exists():
        pytest.skip("needs ../shared/data for the valid split")
    overlay = (f"datasets:\n  bad:\n    task: gsm8k\n    source:\n      train_2: {{path: {bad}}}\n"
               f"      test: {{path: {good}}}\n")
    # The target comes first: --configfile takes every word after it.
    res = run_snakemake(workflow_copy, "results/data/bad/train_2.jsonl", "--cores", "1", "--configfile",
                        "config/config.yaml", write_overlay(workflow_copy, "bad.yaml", overlay), timeout=180)
    assert res.returncode != 0
    log = (workflow_copy / "results/logs/data/bad/prepare_train_2.log").read_text()
    assert message in log and str(bad) in log
    assert "Traceback" not in log
    assert log.strip().splitlines()[-1].startswith("error: ")  # the message is the log's last line
    assert message in res.stderr + res.stdout  # also on the console, not only in the log
    assert not (workflow_copy / "results/data/bad/train_2.jsonl").exists()


def test_data_rules_normalise_a_labs_own_jsonl(workflow_copy):
    """A dataset in no known layout, with its own field names, runs from a config entry only."""
    raw = workflow_copy / "lab"
    raw.mkdir()
    splits = {"train_1": range(0, 6), "train_2": range(6, 10), "test": range(10, 13)}
    for split, ids in splits.items():
        (raw / f"{split}.jsonl").write_text("".join(
            json.dumps({"uid": f"q{i}", "problem": f"What is {i} plus {i}?", "final": 2 * i,
                        "work": f"{i} + {i} = {2 * i}."}) + "\n" for i in ids))
    source = "".join(f"      {s}: {{path: {raw / s}.jsonl}}\n" for s in splits)
    overlay = write_overlay(workflow_copy, "lab.yaml", (
        "datasets:\n  lab:\n    task: gsm8k\n    format: jsonl\n"
        "    fields: {id: uid, question: problem, answer: final, solution: work}\n"
        "    answer_from: field\n    source:\n" + source))
    targets = [f"results/data/lab/{s}.jsonl" for s in splits]
    res = run_snakemake(workflow_copy, *targets, "--cores", "1", "--configfile", "config/config.yaml", overlay,
                        timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    out = workflow_copy / "results/data/lab"
    read = lambda name: [json.loads(line) for line in (out / name).open()]  # noqa: E731
    assert read("train_2.jsonl") == [{"id": f"q{i}", "question": f"What is {i} plus {i}?"} for i in range(6, 10)]
    assert read("train_2.gold.jsonl")[0] == {"id": "q6", "answer": "12", "solution": "6 + 6 = 12.\n#### 12"}
    assert [r["id"] for r in read("train_1.jsonl")] == [f"q{i}" for i in range(6)]
    assert [r["answer"] for r in read("test.jsonl")] == ["20", "22", "24"]


# ----------------------------------------------------------------------------- the whole DAG
def _cpu_has_avx2() -> bool:
    info = Path("/proc/cpuinfo")
    return info.is_file() and " avx2" in info.read_text()


@pytest.mark.slow
def test_default_run_writes_tables_and_figure(e2e_run):
    for name in ("tables/toy.csv", "tables/toy.md", "figures/toy.png"):
        assert (e2e_run / "results" / name).stat().st_size > 0
    md = (e2e_run / "results/tables/toy.md").read_text()
    for row in registry.table_methods(default_experiment()):
        assert row["label"] in md, row


@pytest.mark.slow
@pytest.mark.skipif(not _cpu_has_avx2(), reason="needs an x86 CPU with AVX2")
def test_default_run_pins_torch_cpu_kernels_to_avx2(e2e_run):
    # schema: cpu_kernels; without it an AVX-512 machine computes other files than an AVX2 one.
    log = (e2e_run / "results/logs/toy_world/seed0/pretrain_toy-strong.log").read_text()
    assert "torch CPU kernels AVX2" in log, log[-2000:]


@pytest.mark.slow
def test_default_run_logs_pretraining_progress(e2e_run):
    log = (e2e_run / "results/logs/toy_world/seed0/pretrain_toy-strong.log").read_text()
    steps = re.findall(r"pretraining step (\d+)/(\d+): loss", log)
    assert len(steps) >= 10 and steps[-1][0] == steps[-1][1], log[-2000:]


@pytest.mark.slow
def test_second_run_has_nothing_to_do(e2e_run):
    res = dry_run(e2e_run)
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr, res.stdout[-3000:]


@pytest.mark.slow
def test_accuracies_equal_those_recomputed_from_predictions(e2e_run):
    metrics_files = sorted((e2e_run / "results/toy/seed0").glob("*/eval/*/*.metrics.json"))
    assert len(metrics_files) == 10 + len(default_experiment()["stage2"]["methods"])
    table = {}
    with open(e2e_run / "results/tables/toy.csv") as f:
        for row in csv.DictReader(f):
            table[row["key"]] = row
    for path in metrics_files:
        metrics = json.loads(path.read_text())
        assert metrics["seed"] == 0 and metrics["exp"] == "toy"
        rows = [json.loads(line) for line in path.with_name(path.name.replace(".metrics.json", ".jsonl")).open()]
        recomputed = sum(r["correct"] for r in rows) / len(rows)
        assert metrics["accuracy"] == pytest.approx(recomputed)
        column = "toy-weak"
        assert float(table[metrics["method"]][column]) == pytest.approx(100 * recomputed, abs=1e-3)


@pytest.mark.slow
def test_every_stage_got_non_empty_input(e2e_run):
    res = e2e_run / "results/toy/seed0/toy-weak"
    for i in (1, 2):
        assert json.loads((res / f"stage1/iter{i}/filter.json").read_text())["kept"] > 0
    assert json.loads((res / "stage2/pairs.json").read_text())["pairs"] > 0
    weak = [json.loads(line) for line in (res / "stage1/iter1/weak.answers.jsonl").open()]
    assert sum("####" in r["response"] for r in weak) > 0.5 * len(weak)


def rerun_jobs(workdir: Path, overlay_text: str) -> dict[str, int]:
    overlay = write_overlay(workdir, "overlay.yaml", overlay_text)
    res = dry_run(workdir, "--configfile", "config/config.yaml", overlay)
    assert res.returncode == 0, res.stderr[-3000:]
    if "Nothing to be done" in res.stdout + res.stderr:
        return {}
    return jobs_listed(res.stdout)


@pytest.mark.slow
def test_changing_tau_reruns_only_pairs_and_what_uses_them(e2e_run):
    stats = rerun_jobs(e2e_run, "experiments:\n  toy:\n    stage2:\n      tau: 0.7\n")
    # Pairs, the preference models trained on them, their evaluations and model cards, and the tables
    # and figures that read pairs, votes or evaluations; not sampling, stage I, or any other model.
    n_pref = len(default_experiment()["stage2"]["methods"])
    assert {k: v for k, v in stats.items() if k != "total"} == {
        "mine_pairs": 1, "train_preference": n_pref, "evaluate": n_pref, "write_model_card": n_pref, "make_tables": 1,
        "make_data_quality_table": 1, "plot_vote_confidence": 1, "all": 1}, stats


@pytest.mark.slow
def test_changing_one_methods_beta_reruns_only_that_method(e2e_run):
    first, *_ = default_experiment()["stage2"]["methods"]
    stats = rerun_jobs(e2e_run, f"experiments:\n  toy:\n    stage2:\n      methods:\n        {first}:\n          beta: 0.2\n")
    assert {k: v for k, v in stats.items() if k != "total"} == {"train_preference": 1, "evaluate": 1, "write_model_card": 1,
                                                                 "make_tables": 1, "all": 1}


@pytest.mark.slow
def test_a_new_label_reruns_only_the_tables_and_that_models_card(e2e_run):
    first, *_ = default_experiment()["stage2"]["methods"]
    stats = rerun_jobs(e2e_run, f"experiments:\n  toy:\n    stage2:\n      methods:\n        {first}:\n          label: renamed\n")
    # No training or evaluation: the label is the table row's and the model card's name only.
    assert {k: v for k, v in stats.items() if k != "total"} == {"make_tables": 1, "write_model_card": 1, "all": 1}, stats


@pytest.mark.slow
def test_changing_weak_learning_rate_reruns_only_the_weak_chain(e2e_run):
    stats = rerun_jobs(e2e_run, "models:\n  toy-weak:\n    sft:\n      learning_rate: 0.002\n")
    # The weak chain: everything downstream of the weak SFT; not the toy world, data or ceiling.
    assert stats["train_weak_sft"] == 1
    assert stats["train_strong_sft"] == 7 and stats["evaluate"] == 11
    for untouched in ("build_toy_data", "pretrain_toy_model", "prepare_train_2", "prepare_test", "prepare_train_1",
                      "build_ceiling_set"):
        assert untouched not in stats


@pytest.mark.slow
def test_more_fresh_test_problems_rerun_only_the_evaluations(e2e_run):
    stats = rerun_jobs(e2e_run, "toy:\n  fresh_test: 25\n")
    # The graded test set and what grades it (every evaluation, the cards quoting them: all but
    # weak-ICL's, which has no model of its own; the table); no tokenizer, model, train_2 job or training.
    n_evaluated = 10 + len(default_experiment()["stage2"]["methods"])
    assert {k: v for k, v in stats.items() if k != "total"} == {
        "build_toy_graded_test": 1, "prepare_test": 1, "evaluate": n_evaluated, "write_model_card": n_evaluated - 1,
        "make_tables": 1, "all": 1}, stats


@pytest.mark.slow
def test_comment_only_config_edit_reruns_nothing(e2e_run):
    text = (e2e_run / "config/config.yaml").read_text()
    edited = re.sub(r"(?m)^seeds: \[0\].*$", "seeds: [0]  # same seed", text, count=1)
    assert edited != text
    assert rerun_jobs(e2e_run, "# a comment\n" + edited) == {}
