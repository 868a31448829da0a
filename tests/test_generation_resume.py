"""A generation job killed with SIGKILL resumes: same bytes as an uninterrupted run, no item redone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import torch

from w2s.generation import SamplingConfig, engine_settings, generate_file
from w2s.generation.job import STATE_FILE, WORK_FILE, WorkState, fingerprint
from w2s.generation.testing import build_tiny_model

torch.set_num_threads(1)

ENGINE = {"backend": "transformers", "batch_size": 4, "dtype": "float32", "progress": False}
SAMPLING = dict(max_new_tokens=12, temperature=1.0, n=2, seed=5, stop=["Qu"])
REQUESTS = [
    {"id": f"q{k:02d}", "prompt": f"Question: Ann has {k} pens and buys {3 * k % 17} more.{' Why?' * (k % 4)}\nAnswer:"}
    for k in range(12)
]
# batch_size 4 with n = 2: 2 prompts per batch, 6 batches.

CHILD = textwrap.dedent(
    """
    import json, sys, time
    import torch
    torch.set_num_threads(1)
    from w2s.generation import SamplingConfig, job

    args = json.loads(sys.argv[1])
    real_make_backend = job.make_backend

    def slow_make_backend(*a, **k):
        backend = real_make_backend(*a, **k)
        run = backend.run_batch

        def slow_run(*a, **k):
            time.sleep(0.6)  # leaves the parent time to kill between two batches
            return run(*a, **k)

        backend.run_batch = slow_run
        return backend

    job.make_backend = slow_make_backend
    job.generate_file(args["requests"], args["out"], args["model"], SamplingConfig(**args["sampling"]),
                      args["engine"], args["work"])
    """
)


def _lines(path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_killed_job_resumes_byte_identical(tmp_path):
    model = build_tiny_model(tmp_path / "model")
    sampling = SamplingConfig(**SAMPLING)

    # Uninterrupted run.
    full = generate_file(REQUESTS, str(tmp_path / "full.jsonl"), model, sampling, ENGINE, str(tmp_path / "work_full"))
    assert full["items_generated"] == len(REQUESTS)

    # A run killed after at least two batches are on disk.
    work = tmp_path / "work"
    out = tmp_path / "resumed.jsonl"
    args = {"requests": REQUESTS, "out": str(out), "model": model, "sampling": SAMPLING, "engine": ENGINE,
            "work": str(work)}
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.Popen([sys.executable, str(script), json.dumps(args)], stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    try:
        while _lines(work / WORK_FILE) < 4 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, "the job finished or died before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    done_before = _lines(work / WORK_FILE)
    assert 4 <= done_before < len(REQUESTS) and done_before % 2 == 0
    # A write torn by the kill: the resumed job must drop it, not choke on it.
    with (work / WORK_FILE).open("ab") as f:
        f.write(b'{"id": "q03", "responses": ["tor')

    resumed = generate_file(REQUESTS, str(out), model, sampling, ENGINE, str(work),
                            metrics_path=str(tmp_path / "m.json"))
    assert resumed["items_resumed"] == done_before
    assert resumed["items_generated"] == len(REQUESTS) - done_before
    assert out.read_bytes() == (tmp_path / "full.jsonl").read_bytes()
    assert not (work / WORK_FILE).exists() and not (work / STATE_FILE).exists()


def test_stale_work_from_other_settings_is_discarded(tmp_path):
    model = build_tiny_model(tmp_path / "model")
    work = tmp_path / "work"
    requests = REQUESTS[:4]
    sampling = SamplingConfig(**SAMPLING)
    # Leave work behind as a killed job would: state + rows, no output.
    generate_file(requests, str(tmp_path / "a.jsonl"), model, sampling, ENGINE, str(tmp_path / "scratch"))
    state = WorkState(work, fingerprint(requests, model, sampling, engine_settings(ENGINE)))
    assert state.load() == {}
    state.append([json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()])

    # Same settings: everything is taken from the work file.
    same = generate_file(requests, str(tmp_path / "b.jsonl"), model, sampling, ENGINE, str(work))
    assert same["items_resumed"] == 4 and same["items_generated"] == 0
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()

    # Another seed: the old rows must not be reused.
    state.load()
    state.append([json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()])
    other = SamplingConfig(**{**SAMPLING, "seed": 6})
    changed = generate_file(requests, str(tmp_path / "c.jsonl"), model, other, ENGINE, str(work))
    assert changed["items_resumed"] == 0 and changed["items_generated"] == 4
    assert (tmp_path / "c.jsonl").read_bytes() != (tmp_path / "a.jsonl").read_bytes()
