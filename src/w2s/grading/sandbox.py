"""Bounded symbolic checks: a pool of worker processes with a hard deadline per request.

Why processes and not signals: math-verify's own timeouts use SIGALRM, which works only in the
main thread, and nothing in-process can interrupt a C-level big-integer power (``9^{9^{9}}``).
A worker that misses its deadline is killed (SIGKILL) and replaced; the request counts as a
wrong answer and is logged. Workers are plain subprocesses (``python _worker.py``), so callers
may be threads, daemonic multiprocessing workers or scripts without a ``__main__`` guard, and
they are reused across requests (one process per item would cost ~0.5 s of imports each).

Thread-safe: each request borrows one idle worker; at most ``limit`` workers exist at a time.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("w2s.grading")

WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
STARTUP_TIMEOUT = 120.0  # importing sympy on a loaded machine can take a while; not part of any item's budget


class GraderUnavailable(RuntimeError):
    """The symbolic worker cannot start (e.g. math-verify is not installed)."""


class _Dead(Exception):
    pass


class _Worker:
    def __init__(self) -> None:
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")
        # start_new_session: a Ctrl-C in the terminal reaches the parent, which then closes our
        # stdin; the worker never prints a KeyboardInterrupt traceback of its own.
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(WORKER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
            start_new_session=True,
        )
        self.fd = self.proc.stdout.fileno()
        self.buf = b""
        self.ready = False
        self.counter = 0

    def _readline(self, deadline: float) -> bytes | None:
        poller = select.poll()
        poller.register(self.fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while b"\n" not in self.buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not poller.poll(remaining * 1000):
                return None
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                raise _Dead()
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def _wait_ready(self) -> None:
        try:
            line = self._readline(time.monotonic() + STARTUP_TIMEOUT)
        except _Dead:
            line = None
        if line is None or not json.loads(line).get("ready"):
            self.kill()
            raise GraderUnavailable(
                f"the symbolic grading worker ({WORKER_SCRIPT}) did not start within {STARTUP_TIMEOUT:.0f} s; "
                "its error is above on stderr. Check that math-verify[antlr4_13_2] is installed in this environment."
            )
        self.ready = True

    def call(self, request: dict, timeout: float) -> dict | None:
        """The reply, or None when the deadline passed or the worker died (then it is dead)."""
        if not self.ready:
            self._wait_ready()
        self.counter += 1
        request = dict(request, id=self.counter, soft=max(0.05, 0.8 * timeout))
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
            deadline = time.monotonic() + timeout
            while True:
                line = self._readline(deadline)
                if line is None:
                    return None
                reply = json.loads(line)
                if reply.get("id") == self.counter:
                    return reply
        except (_Dead, BrokenPipeError, OSError, ValueError):
            return None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class _Pool:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.idle: list[_Worker] = []
        self.count = 0

    def acquire(self, limit: int) -> _Worker:
        with self.cond:
            while True:
                while self.idle:
                    w = self.idle.pop()
                    if w.alive():
                        return w
                    w.kill()
                    self.count -= 1
                if self.count < max(1, limit):
                    self.count += 1
                    break
                self.cond.wait()
        try:
            return _Worker()
        except BaseException:
            with self.cond:
                self.count -= 1
                self.cond.notify()
            raise

    def release(self, w: _Worker, broken: bool = False) -> None:
        if broken:
            w.kill()
            try:
                # Start the replacement now so its imports overlap with other work.
                w = _Worker()
            except OSError:
                with self.cond:
                    self.count -= 1
                    self.cond.notify()
                return
        with self.cond:
            self.idle.append(w)
            self.cond.notify()

    def discard(self, w: _Worker) -> None:
        w.kill()
        with self.cond:
            self.count -= 1
            self.cond.notify()

    def shutdown(self) -> None:
        with self.cond:
            idle, self.idle = self.idle, []
            self.count -= len(idle)
        for w in idle:
            w.kill()


_POOL = _Pool()
DEFAULT_LIMIT = max(2, os.cpu_count() or 2)


def _reset_after_fork() -> None:
    # A forked child must not talk to its parent's workers (or wait on a lock some other
    # thread held at fork time): start from an empty pool.
    global _POOL
    _POOL = _Pool()


os.register_at_fork(after_in_child=_reset_after_fork)
atexit.register(lambda: _POOL.shutdown())


def shutdown() -> None:
    """Stop the idle workers (they are restarted on demand)."""
    _POOL.shutdown()


def call(op: str, a: str, b: str = "", timeout: float = 5.0, limit: int | None = None) -> dict | None:
    """Run one symbolic request with a hard deadline; None on timeout or crash (logged)."""
    pool = _POOL
    w = pool.acquire(limit or DEFAULT_LIMIT)
    started = time.monotonic()
    try:
        reply = w.call({"op": op, "a": a, "b": b}, timeout)
    except BaseException:
        pool.discard(w)
        raise
    if reply is None:
        pool.release(w, broken=True)
        log.warning(
            "grading: symbolic check %s gave no answer within %.1f s (worker killed); counted as not equal: %r vs %r",
            op, time.monotonic() - started, a[:200], b[:200],
        )
        return None
    pool.release(w)
    if reply.get("timeout"):
        log.warning("grading: symbolic check %s hit its time limit; counted as not equal: %r vs %r", op, a[:200], b[:200])
        return None
    if reply.get("error"):
        log.debug("grading: symbolic check %s failed (%s): %r vs %r", op, reply["error"], a[:200], b[:200])
        return None
    return reply
