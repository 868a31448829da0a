"""The report rules run by Snakemake on a synthetic results tree of the tiny default, and
`snakemake --report` embeds their tables and figures."""

import json

import pytest
import yaml

from tests.conftest import run_snakemake
from tests.report_trees import DATASET, build_eval_tree, build_stage_tree, read_csv

REPORT_RULES = ["make_tables", "make_passk_table", "make_data_quality_table", "plot_vote_confidence"]
# What the report rules make (not `all`, which also asks for the model cards the tree has no models for).
TARGETS = ["results/tables/toy.csv", "results/tables/toy.passk.csv", "results/tables/toy.data_quality.csv",
           "results/figures/toy.confidence.png"]


def synthetic_tree(work):
    config = yaml.safe_load((work / "config/config.yaml").read_text())
    exp = config["experiments"]["toy"]
    assert exp["iterations"] == 2 and exp["test_sets"] == [DATASET] and config["seeds"] == [0]
    build_eval_tree(work, n_test=40, weak_models=exp["weak"], seeds=[0])
    build_stage_tree(work, n_questions=30, weak_models=exp["weak"], n_samples=exp["stage2"]["n"], seed_dirs=True)


def test_rules_and_report_on_a_synthetic_tree(workflow_copy):
    pytest.importorskip("w2s.grading")
    work = workflow_copy
    synthetic_tree(work)
    # Only the report rules may run: the synthetic tree stands in for everything upstream of them
    # (without the flag, Snakemake would rebuild the missing models and data the tree has no files for).
    args = ["--cores", "2", "--allowed-rules", *REPORT_RULES, "--", *TARGETS]
    res = run_snakemake(work, *args, timeout=300)
    assert res.returncode == 0, res.stderr[-4000:]
    for rule in REPORT_RULES:
        assert f"rule {rule}:" in res.stderr + res.stdout, rule
    wide = {r["key"]: r for r in read_csv(work / "results/tables/toy.csv")}
    assert list(wide)[0] == "weak_floor" and list(wide)[-1] == "ceiling" and wide["dpo"]["group"] == "stage II"
    assert wide["iter2-hybrid"]["method"] == "hybrid-ft (iter 2) = M_plus" and wide["dpo"]["gain_over"] == "iter2-hybrid"
    md = (work / "results/tables/toy.md").read_text()
    assert "(seed 0; grading mode equivalence; accuracy mode equivalence)" in md.splitlines()[0] and "| DPO - M_plus |" in md
    prov = json.loads((work / "results/tables/toy.data_quality.provenance.json").read_text())
    assert prov["config_sha256"] and prov["graders"][0].startswith("w2s-grading") and prov["seeds"] == [0]
    res = run_snakemake(work, "-n", *args, timeout=120)  # params are stable: a second run has nothing to do
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr, res.stdout[-3000:]
    res = run_snakemake(work, "--report", "report.html", *args, timeout=300)
    assert res.returncode == 0, res.stderr[-4000:]
    html = (work / "report.html").read_text()
    for name in ("toy.html", "toy.png", "toy.passk.html", "toy.data_quality.html", "toy.confidence.png",
                 "toy.data_quality.png", "Main table of experiment"):
        assert name in html, name


def test_without_train_2_gold_the_confidence_figure_runs_without_it(workflow_copy):
    """A dataset without train_2 gold (OlympicArena): no ceiling, data quality or pass@k; the
    confidence figure takes no gold and shows stage II's decisions."""
    work = workflow_copy
    synthetic_tree(work)
    (work / "nogold.yaml").write_text("datasets:\n  toy:\n    train_2_gold: false\n")
    args = ["--cores", "2", "--configfile", "config/config.yaml", "nogold.yaml",
            "--allowed-rules", "make_tables", "plot_vote_confidence", "--",
            "results/tables/toy.csv", "results/figures/toy.confidence.png"]
    res = run_snakemake(work, *args, timeout=300)
    assert res.returncode == 0, res.stderr[-4000:]
    assert (work / "results/figures/toy.confidence.png").stat().st_size > 5000
    assert not (work / "results/tables/toy.data_quality.csv").exists()
    wide = {r["key"]: r for r in read_csv(work / "results/tables/toy.csv")}
    assert wide["ceiling"]["toy-weak"] == "" and wide["dpo"]["toy-weak pgr"] == "" and wide["dpo"]["toy-weak gain"]
