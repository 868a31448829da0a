"""A stand-in for the Hugging Face hub, served from folders on localhost: what `snakemake prefetch`
downloads through huggingface_hub (HF_ENDPOINT pointed here) and plain files for URL sources.

    with FakeHub({"w2s-test/tiny": model_folder}, files={"train.jsonl": path}) as hub:
        hub.endpoint        # HF_ENDPOINT
        hub.url("train.jsonl")

Routes (the subset of the hub's API that huggingface_hub's snapshot_download uses): model info
``/api/models/{repo}[/revision/{rev}]``, the file tree ``/api/models/{repo}/tree/{rev}``, and files
``/{repo}/resolve/{rev}/{path}`` (HEAD and GET, with the commit and ETag headers); ``/files/{name}``
serves ``files``. Every repository has one commit, ``COMMIT``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # git's blob id (not for security)


class FakeHub:
    def __init__(self, repos: dict[str, Path], files: dict[str, Path] | None = None):
        self.repos = {name: Path(folder) for name, folder in repos.items()}
        self.files = {name: Path(path) for name, path in (files or {}).items()}
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, name: str) -> str:
        return f"{self.endpoint}/files/{name}"

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _repo_files(self, repo: str) -> list[Path]:
        folder = self.repos[repo]
        return sorted(p for p in folder.rglob("*") if p.is_file())

    def _route(self, path: str) -> tuple[int, dict, bytes]:
        parts = [unquote(p) for p in urlparse(path).path.strip("/").split("/")]
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            repo = "/".join(parts[2:4])
            if repo not in self.repos:
                return 404, {"X-Error-Code": "RepoNotFound"}, b'{"error": "Repository not found"}'
            folder = self.repos[repo]
            if len(parts) >= 6 and parts[4] == "tree":
                tree = [{"type": "file", "path": str(p.relative_to(folder)), "size": p.stat().st_size,
                         "oid": _blob_id(p.read_bytes())} for p in self._repo_files(repo)]
                return 200, {"Content-Type": "application/json"}, json.dumps(tree).encode()
            info = {"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                    "siblings": [{"rfilename": str(p.relative_to(folder))} for p in self._repo_files(repo)]}
            return 200, {"Content-Type": "application/json"}, json.dumps(info).encode()
        if len(parts) >= 5 and parts[2] == "resolve":
            repo, rel = "/".join(parts[:2]), "/".join(parts[4:])
            file = self.repos.get(repo, Path("/nonexistent")) / rel
            if not file.is_file():
                return 404, {"X-Error-Code": "EntryNotFound"}, b"not found"
            data = file.read_bytes()
            return 200, {"X-Repo-Commit": COMMIT, "ETag": f'"{_blob_id(data)}"',
                         "Content-Type": "application/octet-stream"}, data
        if parts[0] == "files" and len(parts) == 2 and parts[1] in self.files:
            return 200, {"Content-Type": "application/octet-stream"}, self.files[parts[1]].read_bytes()
        return 404, {}, b"not found"

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _respond(self, body: bool) -> None:
                hub.requests.append(f"{self.command} {self.path}")
                status, headers, data = hub._route(self.path)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_GET(self):  # noqa: N802 - http.server's names
                self._respond(body=True)

            def do_HEAD(self):  # noqa: N802
                self._respond(body=False)

            def log_message(self, *args):  # quiet
                pass

        return Handler
