"""One generation job: requests in, one JSONL row per request out, resumable after a kill.

Resumable state lives in ``work_dir`` (outside the job's declared output, which Snakemake deletes
when a job fails): ``generation.state.json`` holds a fingerprint of everything that decides the
output (model files, sampling, engine, requests); ``generation.work.jsonl`` gets the rows of each
finished batch appended and fsynced. On restart with the same fingerprint, batches whose rows are
all present are skipped; a batch cut short by the kill is decoded again whole. Batches are planned
from the full request list and seeds derive from (sampling.seed, request id), so the final output
is byte-identical to an uninterrupted run. The work files are removed once the output is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from w2s.io import InputError, dumps, write_json, write_jsonl
from w2s.models import resolve_model

from .common import SamplingConfig, derive_seed, engine_settings

log = logging.getLogger("w2s.generation")

STATE_FILE = "generation.state.json"
WORK_FILE = "generation.work.jsonl"

# Engine keys that change which tokens come out (batch composition changes float rounding).
_OUTPUT_ENGINE_KEYS = ("backend", "batch_size", "dtype", "max_model_len", "enable_prefix_caching",
                       "tensor_parallel_size", "chunk_size", "lora_mode", "group_by_length")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".gguf")


def make_backend(model: str, engine: dict | None = None, threads: int = 1):
    """A loaded backend for ``engine['backend']``; vLLM is imported only when it is chosen."""
    settings = engine_settings(engine)
    if settings["backend"] == "vllm":
        from .vllm_backend import VLLMBackend

        return VLLMBackend(model, settings, threads)
    from .hf import TransformersBackend

    return TransformersBackend(model, settings, threads)


def validate_requests(requests: list[dict]) -> None:
    seen: dict[str, int] = {}
    for i, r in enumerate(requests):
        if not isinstance(r, dict) or not isinstance(r.get("id"), str) or not isinstance(r.get("prompt"), str):
            raise InputError(f"request {i}: expected an object with string fields 'id' and 'prompt', got {str(r)[:80]!r}.")
        if r["id"] in seen:
            raise InputError(f"request id {r['id']!r} appears twice (requests {seen[r['id']]} and {i}); ids must be unique.")
        seen[r["id"]] = i


def _model_files(model: str) -> list:
    """Names, sizes and mtimes of a local model's files: a retrained model invalidates old work."""
    ref = resolve_model(model)
    entries = []
    for folder in (ref.base, ref.adapter):
        if folder and Path(folder).is_dir():
            for p in sorted(Path(folder).iterdir()):
                if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES):
                    st = p.stat()
                    entries.append([str(p), st.st_size, st.st_mtime_ns])
    return entries


def fingerprint(requests: list[dict], model: str, sampling: SamplingConfig, engine: dict) -> str:
    h = hashlib.sha256()
    for r in requests:
        h.update(dumps([r["id"], r["prompt"]]).encode())
        h.update(b"\n")
    spec = {
        "version": 1,
        "model": str(model),
        "model_files": _model_files(model),
        "sampling": sampling.as_dict(),
        "engine": {k: engine.get(k) for k in _OUTPUT_ENGINE_KEYS},
        "requests": h.hexdigest(),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


class WorkState:
    """Finished rows of an interrupted job, kept only while they match the job's fingerprint."""

    def __init__(self, work_dir: str | os.PathLike, fp: str):
        self.dir = Path(work_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_path = self.dir / STATE_FILE
        self.work_path = self.dir / WORK_FILE
        self.fp = fp

    def load(self) -> dict[str, dict]:
        state = None
        if self.state_path.is_file():
            try:
                state = json.loads(self.state_path.read_text())
            except json.JSONDecodeError:
                state = None
        if not state or state.get("fingerprint") != self.fp:
            if self.work_path.exists():
                log.warning("%s: left by a job with other inputs or settings; starting afresh", self.work_path)
                self.work_path.unlink()
            write_json(self.state_path, {"fingerprint": self.fp})
            return {}
        rows: dict[str, dict] = {}
        if not self.work_path.exists():
            return rows
        good = 0
        with self.work_path.open("rb") as f:
            for raw in f:
                if not raw.endswith(b"\n"):
                    break  # the last line of a killed write
                try:
                    row = json.loads(raw)
                except json.JSONDecodeError:
                    break
                rows[row["id"]] = row
                good += len(raw)
        if good < self.work_path.stat().st_size:
            # Drop the torn tail so the next append starts on a clean line.
            with self.work_path.open("r+b") as f:
                f.truncate(good)
        return rows

    def append(self, rows: list[dict]) -> None:
        data = "".join(dumps(r) + "\n" for r in rows).encode("utf-8")
        with self.work_path.open("ab") as f:
            f.write(data)  # one write per batch: a kill leaves whole batches and at most one torn line
            f.flush()
            os.fsync(f.fileno())

    def clear(self) -> None:
        for p in (self.work_path, self.state_path):
            if p.exists():
                p.unlink()


def generate_file(
    requests: list[dict],
    output_path: str,
    model: str,
    sampling: SamplingConfig,
    engine: dict,
    work_dir: str,
    threads: int = 1,
    metrics_path: str | None = None,
) -> dict:
    """Generate ``sampling.n`` responses per request and write them, in request order, as JSONL.

    Each output row: ``{"id", "responses": [str]*n, "seed", "finish_reasons", "num_tokens"}``;
    ``seed`` is the request's seed (derived from ``sampling.seed`` and the id; sample j of the
    transformers backend uses ``derive_seed(seed, j)``). Returns the metrics (also written to
    ``metrics_path`` when given): token counts and speed of this run, items generated and resumed.
    """
    validate_requests(requests)
    settings = engine_settings(engine)
    settings.setdefault("work_dir", str(work_dir))
    ids = [r["id"] for r in requests]
    seeds = [derive_seed(sampling.seed, i) for i in ids]
    work = WorkState(work_dir, fingerprint(requests, model, sampling, settings))
    done = work.load()

    t0 = time.perf_counter()
    items_generated, resumed = 0, sum(1 for i in ids if i in done)
    counts = {"prompt_tokens_submitted": 0, "prompt_tokens_computed": 0, "generated_tokens": 0}
    if not all(i in done for i in ids):
        t0, items_generated, resumed, counts = _generate_missing(requests, seeds, done, work, model, sampling,
                                                                 settings, threads)
    seconds = time.perf_counter() - t0

    write_jsonl(output_path, (done[i] for i in ids))
    metrics = {
        "backend": settings["backend"],
        "model": str(model),
        "requests": len(requests),
        "samples_per_request": sampling.n,
        "items_generated": items_generated,
        "items_resumed": resumed,
        **counts,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(counts["generated_tokens"] / seconds, 2) if seconds > 0 else 0.0,
    }
    if metrics_path:
        write_json(metrics_path, metrics)
    work.clear()
    # One line for the job's log: what was computed and what sharing saved.
    print(
        f"[w2s.generation] {metrics['backend']}: {len(requests)} requests x {sampling.n} samples "
        f"({resumed} resumed), prompt tokens computed {counts['prompt_tokens_computed']} of "
        f"{counts['prompt_tokens_submitted']} submitted, {counts['generated_tokens']} generated in "
        f"{metrics['seconds']} s ({metrics['tokens_per_s']} tokens/s)",
        file=sys.stderr,
    )
    return metrics


def _generate_missing(requests, seeds, done, work, model, sampling, settings, threads):
    """Decode every planned batch with a missing row, appending its rows to ``work`` and ``done``.

    Returns (start time of decoding, items generated, items resumed, token counts of this run).
    """
    from tqdm import tqdm

    ids = [r["id"] for r in requests]
    backend = make_backend(model, settings, threads)
    prep = backend.prepare([r["prompt"] for r in requests], sampling, names=ids)
    todo = [b for b in prep.batches if not all(ids[i] in done for i in b)]
    resumed = len(requests) - sum(len(b) for b in todo)
    if resumed:
        log.info("resuming: %d of %d requests already generated in %s", resumed, len(requests), work.work_path)
    start_counts = backend.counters.as_dict()  # a reused backend carries earlier jobs' counts
    t0 = time.perf_counter()  # speed of generation, not of loading the model
    items_generated = 0
    with tqdm(total=len(requests), initial=resumed, desc=f"generate ({backend.name})", unit="prompt",
              file=sys.stderr, disable=not settings["progress"]) as bar:
        for batch in todo:
            outs = backend.run_batch(prep, batch, sampling, [seeds[i] for i in batch])
            rows = [
                {
                    "id": ids[i],
                    "responses": [c.text for c in comps],
                    "seed": seeds[i],
                    "finish_reasons": [c.finish_reason for c in comps],
                    "num_tokens": [c.num_tokens for c in comps],
                }
                for i, comps in zip(batch, outs, strict=True)
            ]
            work.append(rows)
            done.update((r["id"], r) for r in rows)
            items_generated += len(rows)
            bar.update(len(batch))
    end_counts = backend.counters.as_dict()
    return t0, items_generated, resumed, {k: end_counts[k] - start_counts[k] for k in end_counts}
