"""The workflow as a user runs it: dry runs, config errors, bad inputs, and (slow) the whole tiny
default end to end with partial-rerun checks on its finished results."""

import csv
import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_snakemake


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


# ----------------------------------------------------------------------------- fast checks
def test_dry_run_lists_every_stage(workflow_copy):
    res = dry_run(workflow_copy)
    assert res.returncode == 0, res.stderr
    stats = jobs_listed(res.stdout)
    expected = {"build_toy_data": 1, "train_toy_tokenizer": 1, "pretrain_toy_model": 2, "prepare_dataset": 1,
                "prepare_train_1": 1, "train_weak_sft": 1, "answer_train_2": 4, "sample_demonstrations": 1,
                "consistency_filter": 2, "build_full_weak_set": 1, "build_ceiling_set": 1,
                # 3 variants x 2 iterations + full weak FT + ceiling
                "train_strong_sft": 8, "sample_answers": 1, "mine_pairs": 1, "train_preference": 2,
                # weak floor, weak-ICL, full weak, 6 iteration models, DPO, ORPO, ceiling
                "evaluate": 12, "grade_samples": 1}
    for rule, count in expected.items():
        assert stats.get(rule) == count, (rule, stats)


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


BAD_INPUTS = {
    "truncated": ('{"id": "1", "question": "q", "answer": "x #### 1"}\n{"id": "2", "quest', "line 2: not valid JSON"),
    "no_question": ('{"id": "1", "answer": "x #### 1"}\n', "no non-empty text in any of the fields question"),
    "wrong_type": ('{"id": "1", "question": ["q"], "answer": "x #### 1"}\n', "row 1: field 'question' must be a string, got list"),
    "empty": ("", "is empty after normalisation"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_malformed_dataset_file_names_file_and_line(workflow_copy, case):
    content, message = BAD_INPUTS[case]
    bad = workflow_copy / f"{case}.jsonl"
    bad.write_text(content)
    good = ROOT.parent / "shared" / "data" / "gsm8k" / "test.jsonl"
    if not good.exists():
        pytest.skip("needs ../shared/data for the valid split")
    overlay = (f"datasets:\n  bad:\n    task: gsm8k\n    source:\n      train_2: {{path: {bad}}}\n"
               f"      test: {{path: {good}}}\n")
    # The target comes first: --configfile takes every word after it.
    res = run_snakemake(workflow_copy, "results/data/bad/train_2.jsonl", "--cores", "1", "--configfile",
                        "config/config.yaml", write_overlay(workflow_copy, "bad.yaml", overlay), timeout=180)
    assert res.returncode != 0
    log = (workflow_copy / "results/logs/data/bad/prepare_dataset.log").read_text()
    assert message in log and str(bad) in log
    assert "Traceback" not in log
    assert message in res.stderr + res.stdout  # also on the console, not only in the log
    assert not (workflow_copy / "results/data/bad/train_2.jsonl").exists()


# ----------------------------------------------------------------------------- the whole DAG
@pytest.mark.slow
def test_default_run_writes_tables_and_figure(e2e_run):
    for name in ("tables/toy.csv", "tables/toy.md", "figures/toy.png"):
        assert (e2e_run / "results" / name).stat().st_size > 0
    md = (e2e_run / "results/tables/toy.md").read_text()
    for row in ("weak floor", "strong ceiling", "full weak FT", "weak-ICL", "weak-ft (iter 1)", "icl-ft (iter 2)",
                "hybrid-ft (iter 2)", "DPO", "ORPO"):
        assert row in md, row


@pytest.mark.slow
def test_second_run_has_nothing_to_do(e2e_run):
    res = dry_run(e2e_run)
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr, res.stdout[-3000:]


@pytest.mark.slow
def test_accuracies_equal_those_recomputed_from_predictions(e2e_run):
    metrics_files = sorted((e2e_run / "results/toy").glob("*/eval/*/*.metrics.json"))
    assert len(metrics_files) == 12
    table = {}
    with open(e2e_run / "results/tables/toy.csv") as f:
        for row in csv.DictReader(f):
            table[row["key"]] = row
    for path in metrics_files:
        metrics = json.loads(path.read_text())
        rows = [json.loads(line) for line in path.with_name(path.name.replace(".metrics.json", ".jsonl")).open()]
        recomputed = sum(r["correct"] for r in rows) / len(rows)
        assert metrics["accuracy"] == pytest.approx(recomputed)
        column = "toy-weak"
        assert float(table[metrics["method"]][column]) == pytest.approx(100 * recomputed, abs=1e-3)


@pytest.mark.slow
def test_every_stage_got_non_empty_input(e2e_run):
    res = e2e_run / "results/toy/toy-weak"
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
    assert {k: v for k, v in stats.items() if k != "total"} == {
        "mine_pairs": 1, "train_preference": 2, "evaluate": 2, "write_model_card": 2, "make_tables": 1,
        "make_data_quality_table": 1, "plot_vote_confidence": 1, "all": 1}, stats


@pytest.mark.slow
def test_changing_orpo_beta_does_not_rerun_dpo(e2e_run):
    stats = rerun_jobs(e2e_run, "experiments:\n  toy:\n    orpo:\n      beta: 0.2\n")
    assert {k: v for k, v in stats.items() if k != "total"} == {"train_preference": 1, "evaluate": 1, "write_model_card": 1,
                                                                 "make_tables": 1, "all": 1}


@pytest.mark.slow
def test_changing_weak_learning_rate_reruns_only_the_weak_chain(e2e_run):
    stats = rerun_jobs(e2e_run, "models:\n  toy-weak:\n    sft:\n      learning_rate: 0.002\n")
    # The weak chain: everything downstream of the weak SFT; not the toy world, data or ceiling.
    assert stats["train_weak_sft"] == 1
    assert stats["train_strong_sft"] == 7 and stats["evaluate"] == 11
    for untouched in ("build_toy_data", "pretrain_toy_model", "prepare_dataset", "prepare_train_1", "build_ceiling_set"):
        assert untouched not in stats


@pytest.mark.slow
def test_comment_only_config_edit_reruns_nothing(e2e_run):
    text = (e2e_run / "config/config.yaml").read_text()
    edited = re.sub(r"(?m)^seed: 0$", "seed: 0  # same seed", text, count=1)
    assert edited != text
    assert rerun_jobs(e2e_run, "# a comment\n" + edited) == {}
