"""Adversarial model outputs: nothing is executed, every check ends in bounded time, a hang is
killed without stalling the batch, and the grader works from threads and worker processes."""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from w2s.grading import extract_answer, grade_rows, is_equivalent, sandbox

pytestmark = pytest.mark.timeout(300)

TIMEOUT = 0.5
# Generous wall-time bound for one call: the deadline, plus starting a replacement worker
# (~0.5-2 s on a loaded 2-core machine). A hang would blow far past it.
BOUND = TIMEOUT + 20.0


def code_strings(marker: str) -> list[str]:
    touch = f"__import__('pathlib').Path({marker!r}).touch()"
    return [
        touch,
        f"#### {touch}",
        f"The answer is: {touch}",
        f"The answer is: $\\boxed{{{touch}}}$",
        f"The answer is: eval(\"{touch}\")",
        f"The answer is: exec(\"import os; os.system('touch {marker}')\")",
        f"The answer is: lambda: {touch}",
        "The answer is: ().__class__.__bases__[0].__subclasses__()",
        "The answer is: Symbol('x').__class__.__init__.__globals__",
        f"The answer is: \\text{{{touch}}}",
        f"The answer is: x = {touch}",
        f"#### Integer (1 )+__import__('pathlib').Path({marker!r}).touch()",
    ]


HEAVY = [
    "#### 9**9**9**9",
    "The answer is: 9**9**9**9",
    "The answer is: 9^{9^{9^{9}}}",
    "The answer is: $10^{10^{10}}$",
    "The answer is: (10^{10^{10}})!",
    "The answer is: 7^{12345678}",
    "The answer is: 1000000!",
    "The answer is: \\int_0^\\infty e^{-x^{100}} \\sin(x^{x^x}) dx",
    "The answer is: \\sum_{k=1}^{10^{12}} k^{k}",
]

HUGE = [
    "The answer is: " + "\\frac{1}{2}+" * 9000 + "1",  # ~100 kB of LaTeX on one line
    "\\boxed{" + "\\sqrt{x}+" * 12000 + "}",
    "The answer is: " + "\\frac{" * 8000 + "1" + "}{2}" * 8000,
    "x" * 100_000,
    "#### " + "1" * 100_000,
    "Question: q\nAnswer: " + "The answer is: 7\n" * 6000,
]

NESTED = [
    "The answer is: " + "{" * 20000 + "1" + "}" * 20000,
    "\\boxed{" * 5000 + "1" + "}" * 5000,
    "The answer is: " + "(" * 5000 + "1" + ")" * 5000,
    "The answer is: " + "(" * 30 + "1" + ")" * 30,
    "The answer is: " + "\\sqrt{" * 300 + "2" + "}" * 300,
    "\\boxed{" * 20000,  # unbalanced
]

UNICODE = [
    "#### ١٢٣",  # Arabic-Indic digits: text, not a number
    "The answer is: ٧٢",
    "#### 𝟕𝟐",  # mathematical bold digits
    "#### ７２",  # fullwidth digits: read as 72
    "The answer is: ⁷²",
    "#### 72\u202e\u2066",  # bidi controls
    "The answer is: \x00\x01\x02",
]


def all_cases(marker: str) -> list[str]:
    return code_strings(marker) + HEAVY + HUGE + NESTED + UNICODE


def test_control_the_code_strings_do_execute_under_sympify(tmp_path):
    """The marker strings are live: sympy's string parser (which the grader never uses on model
    text) really runs them. So the check below that no marker appears can fail."""
    import sympy

    marker = tmp_path / "control"
    try:
        sympy.sympify(f"__import__('pathlib').Path({str(marker)!r}).touch()")
    except Exception:
        pass  # whatever sympify makes of the result, the code has run by then
    assert marker.exists()


@pytest.mark.parametrize("task", ["gsm8k", "math", "olympicarena"])
def test_adversarial_outputs_bounded_and_nothing_executed(tmp_path, task, caplog):
    marker = str(tmp_path / "executed")
    caplog.set_level(logging.WARNING, logger="w2s.grading")
    for response in all_cases(marker):
        # Extraction runs in this process: its CPU time, which a loaded machine does not inflate.
        started = time.process_time()
        pred = extract_answer(response, task)
        assert time.process_time() - started < 2.0, f"extraction is slow on {response[:60]!r}"
        for gold in ("72" if task == "gsm8k" else "x+1", pred[:200] or "1"):
            started = time.monotonic()
            result = is_equivalent(gold, pred, task, timeout=TIMEOUT)
            assert isinstance(result, bool)
            assert time.monotonic() - started < BOUND, f"{task}: {response[:60]!r} vs {gold!r} took too long"
    assert not os.path.exists(marker), "model text was executed"
    # Pathological answers are logged, not silently dropped.
    assert any("counted as not equal" in r.getMessage() for r in caplog.records)


def test_unicode_digits():
    assert extract_answer("#### ７２", "gsm8k") == "72"
    assert is_equivalent("72", extract_answer("#### ７２", "gsm8k"), "gsm8k")
    for response in ("#### ١٢٣", "#### 𝟕𝟐"):
        assert not is_equivalent("123", extract_answer(response, "gsm8k"), "gsm8k")
        assert not is_equivalent("72", extract_answer(response, "gsm8k"), "gsm8k")


def test_batch_with_hangs_finishes_and_grades_the_rest(tmp_path):
    marker = str(tmp_path / "executed")
    good = [
        {"response": "The answer is: \\dfrac{2}{4}", "gold": "0.5"},
        {"response": "The answer is: \\sqrt{8}", "gold": "2\\sqrt{2}"},
        {"response": "The answer is: (x+1)^2", "gold": "x^2+2x+1"},
        {"response": "The answer is: 3", "gold": "4"},
    ]
    bad = [{"response": r, "gold": "x+1"} for r in HEAVY + code_strings(marker)]
    rows = [row for pair in zip(bad, good * 6) for row in pair]
    started = time.monotonic()
    timeout = 2.0  # room for a real simplification of the good items on a loaded machine
    graded = grade_rows(rows, "math", workers=2, timeout=timeout)
    elapsed = time.monotonic() - started
    # Every item has its own deadline: the batch cannot take longer than all of them in a row.
    assert elapsed < len(bad) * timeout + BOUND
    by_response = {(r["response"], r["gold"]): r["correct"] for r in graded}
    assert [by_response[(g["response"], g["gold"])] for g in good] == [True, True, True, False]
    assert not any(by_response[(b["response"], b["gold"])] for b in bad)
    assert not os.path.exists(marker)


def test_hard_deadline_kills_a_hung_worker_and_recovers(caplog):
    """The `_block` diagnostic hangs with SIGALRM blocked, as a C-level big-integer computation
    would: only the parent's kill can end it."""
    caplog.set_level(logging.WARNING, logger="w2s.grading")
    assert is_equivalent("\\frac{1}{2}", "0.5000", "math")  # a warm worker
    started = time.monotonic()
    assert sandbox.call("_block", "30", timeout=1.0) is None
    assert time.monotonic() - started < 10.0
    assert any("worker killed" in r.getMessage() for r in caplog.records)
    assert is_equivalent("3\\sqrt{13}", "\\sqrt{117}", "math")  # the replacement works


def test_dead_worker_is_replaced():
    assert is_equivalent("3\\sqrt{13}", "\\sqrt{117}", "math")
    with sandbox._POOL.cond:
        idle = list(sandbox._POOL.idle)
    assert idle
    for w in idle:
        w.proc.kill()
        w.proc.wait()
    assert is_equivalent("3\\sqrt{13}", "\\sqrt{117}", "math")
    assert not is_equivalent("3\\sqrt{13}", "\\sqrt{118}", "math")


PAIRS = [
    ("3\\sqrt{13}", "\\sqrt{117}", True),
    ("x^2+2x+1", "(x+1)^2", True),
    ("(1,2)", "(2,1)", False),
    ("x+1", "9^{9^{9}}", False),
    ("\\frac{\\pi}{2}", "\\pi/2", True),
]


def _check_pair(pair) -> bool:
    gold, pred, expected = pair
    return is_equivalent(gold, pred, "math", timeout=2.0) is expected


def test_from_threads():
    with ThreadPoolExecutor(max_workers=4) as ex:
        assert all(ex.map(_check_pair, PAIRS * 2))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_from_worker_processes(method):
    # Pool workers are daemonic processes, which multiprocessing does not let start children:
    # the grader's workers are plain subprocesses, so this works.
    with multiprocessing.get_context(method).Pool(2) as pool:
        assert all(pool.map(_check_pair, PAIRS))


def test_no_worker_left_behind_by_a_finished_process():
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        pids = pool.map(_worker_pids_after_check, [0])[0]
    assert pids
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), "a grading worker outlived the process that started it"


def _worker_pids_after_check(_) -> list[int]:
    assert is_equivalent("3\\sqrt{13}", "\\sqrt{117}", "math")
    with sandbox._POOL.cond:
        return [w.proc.pid for w in sandbox._POOL.idle]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
