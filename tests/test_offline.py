"""Jobs run with the hub offline: a model that is not in the cache is one message at once (the config
key, the cache, the prefetch command) as the last line of the job's log; `snakemake prefetch` fills
the caches from a hub (here a stand-in served from a folder, tests/fake_hub.py), and the same job
then runs with nothing to reach."""

import hashlib
import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import default_config, run_snakemake
from tests.fake_hub import COMMIT, FakeHub
from tests.test_local_sources import lab_files
from tests.test_workflow import write_overlay
from w2s import hub
from w2s.models import split_revision

# A port nothing listens on: the hub is unreachable even for a job that tried.
UNREACHABLE = "http://127.0.0.1:9"
TARGET = "results/lab/seed0/hubweak/stage1/iter1/weak.answers.jsonl"
LOG = "results/logs/lab/seed0/hubweak/answer_train_2.iter1.weak.log"


def hub_overlay(workdir: Path, model: str, revision: str | None = None, test_source: str | None = None) -> str:
    paths = lab_files(workdir)
    test = test_source or str(paths["test"])
    return write_overlay(workdir, "hub.yaml", (
        f"datasets:\n  lab:\n    task: gsm8k\n    max_new_tokens: 8\n    source:\n"
        f"      train_2: {{path: {paths['train_2']}}}\n      test: {{path: {test}}}\n"
        f"models:\n  hubweak:\n    path: {model}\n    finetune: false\n"
        + (f"    revision: {revision}\n" if revision else "")
        + "    generation: {backend: transformers, batch_size: 8, dtype: float32}\n"
        "experiments:\n  lab:\n    dataset: lab\n    strong: toy-strong\n    weak: [hubweak]\n    iterations: 1\n"
        "    demonstrations: {k: 2}\n"))


def job_env(tmp_path: Path, endpoint: str = UNREACHABLE) -> dict:
    """A fresh hub cache, the hub at ``endpoint``, and no HF_*_OFFLINE of the caller's: jobs get
    the workflow's own default."""
    return {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": None, "HF_DATASETS_CACHE": None,
            "HF_ENDPOINT": endpoint, "HF_HUB_OFFLINE": None, "HF_DATASETS_OFFLINE": None}


def log_seconds(log: Path) -> float:
    """From the job's first log line (its start) to the log's last write."""
    first = datetime.strptime(log.read_text().splitlines()[0][:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return log.stat().st_mtime - first


def test_a_model_missing_from_the_cache_is_one_message_at_once(workflow_copy, tmp_path):
    overlay = hub_overlay(workflow_copy, "w2s-test/no-such-model")
    env = job_env(tmp_path)
    started = time.monotonic()
    res = run_snakemake(workflow_copy, TARGET, "--cores", "1", "--configfile", "config/config.yaml", overlay,
                        timeout=300, env=env)
    took = time.monotonic() - started
    assert res.returncode != 0
    log = workflow_copy / LOG
    message = (f"error: model 'w2s-test/no-such-model' (models.hubweak.path) is not in the cache {tmp_path}/hf/hub, "
               "and jobs run with the hub offline (HF_HUB_OFFLINE=1). Download it first on a machine with network, "
               "with this run's --configfile or --profile: `snakemake prefetch --cores 1 ...` (docs/cluster.md, "
               "\"Offline clusters\"); or let jobs download (export HF_HUB_OFFLINE=0).")
    assert log.read_text().strip().splitlines()[-1] == message
    assert "Traceback" not in log.read_text()
    assert message in res.stderr  # on the console too
    assert log_seconds(log) < 5, log.read_text()
    assert took < 120, f"{took:.0f} s"  # the whole run, data job included: no retries anywhere


def test_a_url_source_missing_from_the_download_cache_is_one_message(workflow_copy, tmp_path):
    url = "https://example.invalid/gsm8k/test.jsonl"
    overlay = hub_overlay(workflow_copy, "w2s-test/no-such-model", test_source=url)
    res = run_snakemake(workflow_copy, "results/data/lab/test.jsonl", "--cores", "1", "--configfile",
                        "config/config.yaml", overlay, timeout=300, env=job_env(tmp_path))
    assert res.returncode != 0
    # The dry run's download job names the URL's host and path; its log ends in the message.
    last = (workflow_copy / "results/logs/downloads/example.invalid/gsm8k/test.jsonl.log").read_text().strip()
    last = last.splitlines()[-1]
    assert last == (f"error: dataset file '{url}' (datasets.lab.source.test.path) is not in the cache "
                    f"{workflow_copy}/.cache/w2s-downloads, and jobs run with the hub offline (HF_HUB_OFFLINE=1). "
                    "Download it first on a machine with network, with this run's --configfile or --profile: "
                    "`snakemake prefetch --cores 1 ...` (docs/cluster.md, \"Offline clusters\"); or let jobs "
                    "download (export HF_HUB_OFFLINE=0).")


@pytest.mark.slow  # about 30 s, mostly the datasets library's retries
def test_prefetch_tries_every_hub_model_and_remote_source(workflow_copy, tmp_path):
    """`prefetch` of the paper's GSM8K config with the hub unreachable: every model and source is
    tried and each failure is reported with its config key, in one message."""
    res = run_snakemake(workflow_copy, "prefetch", "--cores", "1", "--replace-workflow-config", "--configfile",
                        "config/paper/gsm8k.yaml", timeout=300, env=job_env(tmp_path))
    assert res.returncode != 0
    last = (workflow_copy / "results/logs/prefetch.log").read_text().strip().splitlines()[-1]
    assert last.startswith("error: prefetch: 7 of 7 downloads failed: models.llama2-7b.path: meta-llama/Llama-2-7b-hf: ")
    for key in ("models.gemma-2b.path", "models.mistral-7b.path", "models.llama2-70b.path",
                "datasets.gsm8k.source.train_1.path", "datasets.gsm8k.source.train_2.path",
                "datasets.gsm8k.source.test.path"):
        assert key in last


# ----------------------------------------------------------------------------- a filled cache
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny Llama with its tokenizer, saved with save_pretrained (what a hub repository holds)."""
    from w2s import toy

    root = tmp_path_factory.mktemp("tiny")
    data = root / "data"
    world = default_config()["toy"]
    world = {"data": {**world["data"], "train_1": 20, "train_2": 10, "test": 5},
             "tokenizer": {**world["tokenizer"], "vocab_size": 400}}
    toy.build_toy_data(str(data), world["data"], 0)
    toy.train_tokenizer(str(root / "tokenizer"), str(data), world, 0)
    toy.build_model(str(root / "model"), str(root / "tokenizer"), str(data),
                    {**default_config()["models"]["toy-weak"]["toy"], "layers": 1, "hidden": 32, "heads": 1,
                     "intermediate": 64}, 0)
    return root / "model"


@pytest.mark.slow
def test_prefetch_fills_the_caches_and_the_job_runs_offline(workflow_copy, tmp_path, tiny_model):
    served = tmp_path / "served_test.jsonl"
    served.write_text("".join(json.dumps({"id": f"t{i}", "question": f"What is {i} and {i}?",
                                          "answer": f"{i} + {i} = {2 * i}\n#### {2 * i}"}) + "\n" for i in range(3)))
    with FakeHub({"w2s-test/tiny": tiny_model}, files={"test.jsonl": served}) as fake:
        overlay = hub_overlay(workflow_copy, "w2s-test/tiny", revision=COMMIT, test_source=fake.url("test.jsonl"))
        res = run_snakemake(workflow_copy, "prefetch", "--cores", "1", "--configfile", "config/config.yaml", overlay,
                            timeout=300, env={**job_env(tmp_path, fake.endpoint), "HF_HUB_OFFLINE": "1"})
        assert res.returncode == 0, res.stderr[-3000:]
        url = fake.url("test.jsonl")
    # The hub is gone: the job reads the caches only.
    snapshot = tmp_path / "hf/hub/models--w2s-test--tiny/snapshots" / COMMIT
    assert (snapshot / "model.safetensors").is_file() and (snapshot / "tokenizer.json").is_file()
    prefetch_log = (workflow_copy / "results/logs/prefetch.log").read_text()
    assert f"prefetched models.hubweak.path: w2s-test/tiny -> {snapshot}" in prefetch_log
    assert "prefetched datasets.lab.source.test.path" in prefetch_log
    res = run_snakemake(workflow_copy, TARGET, "results/data/lab/test.jsonl", "--cores", "1", "--configfile",
                        "config/config.yaml", overlay, timeout=600, env=job_env(tmp_path))
    assert res.returncode == 0, res.stderr[-3000:]
    answers = [json.loads(line) for line in (workflow_copy / TARGET).open()]
    assert len(answers) == 8 and all(isinstance(a["response"], str) for a in answers)
    log = (workflow_copy / LOG).read_text()
    assert f"model w2s-test/tiny: revision {COMMIT}, commit {COMMIT}" in log
    record = json.loads((workflow_copy / "results/data/lab/test.source.json").read_text())
    assert record["path"] == url and record["sha256"] == hashlib.sha256(served.read_bytes()).hexdigest()


def test_require_model_leaves_local_folders_and_online_jobs_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "owner").mkdir()
    (tmp_path / "owner" / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    hub.require_model("owner")  # a local folder: nothing to look up
    hub.require_model(str(tmp_path / "owner"))
    with pytest.raises(hub.NotInCache, match="model \\(revision v2\\) 'w2s-test/tiny' \\(models.<name>.path\\)"):
        hub.require_model("w2s-test/tiny@v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    hub.require_model("w2s-test/tiny@v2")  # online: the hub decides


def test_revisions_travel_as_at_suffixes(tmp_path):
    assert split_revision("Qwen/Qwen2.5-0.5B@v1.0") == ("Qwen/Qwen2.5-0.5B", "v1.0")
    assert split_revision("Qwen/Qwen2.5-0.5B") == ("Qwen/Qwen2.5-0.5B", None)
    folder = tmp_path / "me@home"
    folder.mkdir()
    assert split_revision(str(folder)) == (str(folder), None)  # a folder whose name has an @


def test_url_cache_files_name_the_host_and_path_when_they_can():
    from w2s.sources import url_cache_file

    release = "https://raw.githubusercontent.com/GAIR-NLP/weak-to-strong-reasoning/b0511b2/data/raw/math/train_1.jsonl"
    assert url_cache_file(release, "c") == Path(
        "c/raw.githubusercontent.com/GAIR-NLP/weak-to-strong-reasoning/b0511b2/data/raw/math/train_1.jsonl")
    assert url_cache_file("http://127.0.0.1:8000/test.jsonl", "c") == Path("c/127.0.0.1_8000/test.jsonl")
    # Query strings, '..' and odd characters could collide or escape the cache: hashed names.
    for url in ("https://h.org/a.jsonl?rev=2", "https://h.org/../../etc/passwd", "https://h.org/a b.jsonl",
                "https://h.org/dir/"):
        cached = url_cache_file(url, "c")
        assert cached.parent == Path("c/_hashed"), (url, cached)
    assert url_cache_file("https://h.org/a.jsonl?rev=2", "c") != url_cache_file("https://h.org/a.jsonl?rev=3", "c")


def test_sources_are_local_urls_or_hub_datasets():
    from w2s.sources import is_local_source, is_url_source

    for path, local, url in [("data/train.jsonl", True, False), ("hf://openai/gsm8k", False, False),
                             ("https://h.org/a.jsonl", False, True), ("http://127.0.0.1:8000/t.jsonl", False, True),
                             ("httpdata/x.jsonl", True, False)]:
        assert (is_local_source(path), is_url_source(path)) == (local, url), path
