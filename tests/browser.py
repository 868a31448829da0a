"""Headless Chromium for tests, driven over the DevTools protocol on a pipe (no extra package).

Chromium reads JSON commands from fd 3 and writes replies and events to fd 4, each message ended
by a NUL byte (``--remote-debugging-pipe``, the transport Playwright and Puppeteer use). The flags
keep it off the network: the test machine has none, and a browser that tries to reach Google's
services waits for connections that are refused.

    with Chromium() as browser:
        browser.open("file:///.../report.html")
        browser.eval("document.title")
        browser.frame_eval(frame_id, "document.body.innerText")   # inside an iframe, any origin
        png = browser.screenshot()
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-pipe")


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(RuntimeError):
    pass


class Chromium:
    def __init__(self, executable: str | None = None, width: int = 1400, height: int = 1000, timeout: float = 60):
        self.executable = executable or find_chromium()
        if not self.executable:
            raise BrowserError("no chromium on PATH")
        self.width, self.height, self.timeout = width, height, timeout
        self._id = 0
        self._buffer = b""

    # -------------------------------------------------------------------------------- process
    def __enter__(self) -> Chromium:
        self.profile = tempfile.mkdtemp(prefix="w2s-chromium-")
        commands_r, self._commands_w = os.pipe()
        self._replies_r, replies_w = os.pipe()

        def on_fds_3_and_4():
            a, b = os.dup(commands_r), os.dup(replies_w)  # dup first: the pipes may already sit on 3 or 4
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.log = Path(self.profile) / "chromium.log"
        self.proc = subprocess.Popen(
            [self.executable, *FLAGS, f"--user-data-dir={self.profile}",
             f"--window-size={self.width},{self.height}", "about:blank"],
            preexec_fn=on_fds_3_and_4, close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )
        os.close(commands_r)
        os.close(replies_w)
        page = next(t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.send("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        self.page("Page.enable")
        self.page("Runtime.enable")
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.send("Browser.close")
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._commands_w, self._replies_r):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    # -------------------------------------------------------------------------------- protocol
    def _message(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._replies_r, 1 << 20)
            if not chunk:
                tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
                raise BrowserError(f"chromium closed the DevTools pipe (exit {self.proc.poll()}); its log:\n{tail}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, session: str | None = None, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands_w, json.dumps(message).encode() + b"\0")
        while True:  # events arrive in between; only the reply to this command matters here
            reply = self._message()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def page(self, method: str, **params) -> dict:
        return self.send(method, session=self.session, **params)

    # -------------------------------------------------------------------------------- page
    def open(self, url: str, ready: str = "document.readyState === 'complete'") -> None:
        self.page("Page.navigate", url=url)
        self.wait_for(ready)

    def eval(self, expression: str, context_id: int | None = None):
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        if context_id is not None:
            params["contextId"] = context_id
        result = self.page("Runtime.evaluate", **params)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(f"{expression[:200]!r} failed in the page: "
                               f"{details.get('exception', {}).get('description') or details.get('text')}")
        return result["result"].get("value")

    def _poll(self, probe, what: str, timeout: float | None = None):
        """Call ``probe`` every 0.1 s until it returns something truthy; return that."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout or self.timeout:.0f}s waiting for {what}")
            time.sleep(0.1)

    def wait_for(self, expression: str, context_id: int | None = None, timeout: float | None = None):
        """Poll ``expression`` until it is truthy; return its value."""
        def probe():
            try:
                return self.eval(expression, context_id)
            except BrowserError:
                return None
        return self._poll(probe, repr(expression[:200]), timeout)

    def child_frames(self) -> list[dict]:
        tree = self.page("Page.getFrameTree")["frameTree"]
        return [child["frame"] for child in tree.get("childFrames", [])]

    def wait_for_frame(self, url: str, timeout: float | None = None) -> dict:
        """The child frame showing ``url``: an iframe is in the DOM before the frame tree lists its
        navigation (seen on a loaded machine), so poll for it."""
        return self._poll(lambda: next((f for f in self.child_frames() if f["url"] == url), None),
                          f"a frame at {url}", timeout)

    def frame_context(self, frame_id: str) -> int:
        """An execution context inside an iframe (isolated world: works for data: and file: frames,
        which the page's own scripts may not read)."""
        return self.page("Page.createIsolatedWorld", frameId=frame_id, worldName="w2s-test")["executionContextId"]

    def frame_eval(self, frame_id: str, expression: str, wait: bool = False):
        context = self.frame_context(frame_id)
        return self.wait_for(expression, context) if wait else self.eval(expression, context)

    def screenshot(self, clip: dict | None = None) -> bytes:
        params = {"format": "png"}
        if clip:
            params["clip"] = {**clip, "scale": 1}
        return base64.b64decode(self.page("Page.captureScreenshot", **params)["data"])
