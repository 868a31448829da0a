"""Local sources are inputs: editing a local dataset file or a local model folder reruns exactly
the jobs that read it and what follows; hub and URL sources record what was read."""

import json
import os
import re
import time
from pathlib import Path

import pytest

from tests.conftest import run_snakemake
from tests.test_workflow import jobs_listed, write_overlay

SPLITS = {"train_1": range(0, 8), "train_2": range(8, 16), "test": range(16, 20)}


def lab_files(workdir: Path) -> dict[str, Path]:
    raw = workdir / "lab"
    raw.mkdir()
    paths = {}
    for split, ids in SPLITS.items():
        paths[split] = raw / f"{split}.jsonl"
        paths[split].write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} plus {i}?",
                                                    "answer": f"{i} + {i} = {2 * i}\n#### {2 * i}"}) + "\n"
                                        for i in ids))
    return paths


def lab_overlay(workdir: Path, paths: dict[str, Path], weak_folder: Path) -> str:
    """An experiment on a local dataset with a local weak model folder (fine-tuned on train_1)."""
    source = "".join(f"      {s}: {{path: {p}}}\n" for s, p in paths.items())
    return write_overlay(workdir, "lab.yaml", (
        "datasets:\n  lab:\n    task: gsm8k\n    max_new_tokens: 16\n    source:\n" + source
        + f"models:\n  localweak:\n    path: {weak_folder}\n    finetune: true\n"
        + "experiments:\n  lab:\n    dataset: lab\n    strong: toy-strong\n    weak: [localweak]\n    iterations: 1\n"
        + "    demonstrations: {k: 2}\n"))


def finished_run(workdir: Path, overlay: str) -> None:
    """Every output of the DAG present and newer than its local sources, as after a finished run
    (made as files: the jobs' content does not matter to which jobs a change reruns)."""
    res = run_snakemake(workdir, "-n", "--configfile", "config/config.yaml", overlay, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    outputs = {p.strip() for line in re.findall(r"^\s+output: (.+)$", res.stdout, re.M) for p in line.split(",")}
    assert outputs
    past = time.time() - 1000
    # The workflow's own files (scripts count by their mtime) and the sources are older still.
    for f in workdir.rglob("*"):
        os.utime(f, (past - 1000, past - 1000))
    for out in (workdir / o for o in sorted(outputs)):
        if out.suffix:  # files; directory() outputs (toy tokenizer and models) have no suffix
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text("")
        else:
            out.mkdir(parents=True, exist_ok=True)
        os.utime(out, (past, past))
    for folder in {(workdir / o).parent for o in outputs}:
        os.utime(folder, (past, past))
    res = run_snakemake(workdir, "-n", "--configfile", "config/config.yaml", overlay, timeout=120)
    assert "Nothing to be done" in res.stdout + res.stderr, res.stdout[-3000:]


@pytest.fixture
def lab_run(workflow_copy):
    paths = lab_files(workflow_copy)
    weak_folder = workflow_copy / "models" / "localweak"
    weak_folder.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (weak_folder / name).write_text("{}")
    overlay = lab_overlay(workflow_copy, paths, weak_folder)
    finished_run(workflow_copy, overlay)
    return workflow_copy, overlay, paths, weak_folder


def dry_run_after(workdir: Path, overlay: str) -> tuple[dict[str, int], str, list[str]]:
    """The jobs a dry run lists (rule -> count), its output, and every output of those jobs."""
    res = run_snakemake(workdir, "-n", "--configfile", "config/config.yaml", overlay, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    outputs = [p.strip() for line in re.findall(r"^\s+output: (.+)$", res.stdout, re.M) for p in line.split(",")]
    return jobs_listed(res.stdout), res.stdout, outputs


def untouched(outputs: list[str]) -> bool:
    """No job of the toy world, the toy experiment or the lab ceiling."""
    return not [o for o in outputs if o.startswith(("results/toy/", "results/toy_world/", "results/data/toy/",
                                                    "results/lab/seed0/ceiling/"))]


# What follows from the weak model's SFT in the lab experiment (1 iteration, DPO and ORPO); never
# the train_2/test data, the ceiling, the toy world or the toy experiment.
WEAK_CHAIN = {"train_weak_sft": 1, "answer_train_2": 2, "sample_demonstrations": 1, "consistency_filter": 1,
              "build_full_weak_set": 1, "train_strong_sft": 4, "sample_answers": 1, "mine_pairs": 1,
              "train_preference": 2, "grade_samples": 1, "evaluate": 8, "write_model_card": 7, "make_tables": 1,
              "make_passk_table": 1, "make_data_quality_table": 1, "plot_vote_confidence": 1, "all": 1}


def test_editing_a_row_of_a_local_train_1_reruns_what_reads_it(lab_run):
    workdir, overlay, paths, _ = lab_run
    text = paths["train_1"].read_text()
    paths["train_1"].write_text(text.replace("What is 3 plus 3?", "What is 3 plus 3 apples?", 1))
    stats, out, outputs = dry_run_after(workdir, overlay)
    assert {k: v for k, v in stats.items() if k != "total"} == {"prepare_train_1": 1, **WEAK_CHAIN}, stats
    assert re.search(r"rule prepare_train_1:\n(.*\n)*?\s+reason: Updated input files: " + re.escape(str(paths["train_1"])),
                     out)
    assert untouched(outputs) and "results/data/lab/train_2.jsonl" not in outputs


def test_editing_a_local_test_file_reruns_only_the_evaluations(lab_run):
    """prepare_test is its own job: no data job of train_1 or train_2 reruns, and no model."""
    workdir, overlay, paths, _ = lab_run
    paths["test"].write_text(paths["test"].read_text().replace("What is 17 plus 17?", "What is 17 plus 17 now?", 1))
    stats, out, outputs = dry_run_after(workdir, overlay)
    # Every evaluation (the ceiling's too) and the model cards that quote them; then the tables.
    assert {k: v for k, v in stats.items() if k != "total"} == {
        "prepare_test": 1, "evaluate": WEAK_CHAIN["evaluate"] + 1, "write_model_card": WEAK_CHAIN["write_model_card"] + 1,
        "make_tables": 1, "all": 1}, stats
    assert re.search(r"rule prepare_test:\n(.*\n)*?\s+reason: Updated input files: " + re.escape(str(paths["test"])), out)
    assert not [o for o in outputs if o.startswith(("results/toy/", "results/toy_world/", "results/data/toy/"))]


def test_editing_a_local_model_folder_reruns_the_jobs_that_load_it(lab_run):
    workdir, overlay, _, weak_folder = lab_run
    (weak_folder / "config.json").write_text('{"edited": true}')
    stats, out, outputs = dry_run_after(workdir, overlay)
    assert {k: v for k, v in stats.items() if k != "total"} == WEAK_CHAIN, stats
    assert untouched(outputs)
    assert re.search(r"reason: Updated input files: .*" + re.escape(str(weak_folder / "config.json")), out)


def test_data_jobs_record_their_sources(workflow_copy):
    paths = lab_files(workflow_copy)
    source = "".join(f"      {s}: {{path: {p}}}\n" for s, p in paths.items())
    overlay = write_overlay(workflow_copy, "lab.yaml", "datasets:\n  lab:\n    task: gsm8k\n    source:\n" + source)
    targets = [f"results/data/lab/{s}.jsonl" for s in paths]
    res = run_snakemake(workflow_copy, *targets, "--cores", "1", "--configfile", "config/config.yaml", overlay,
                        timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    import hashlib

    for split, path in paths.items():
        record = json.loads((workflow_copy / f"results/data/lab/{split}.source.json").read_text())
        assert record == {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
