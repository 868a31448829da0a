"""What both generation backends share: sampling settings, engine defaults, seeds, stop strings.

Kept free of torch and vLLM imports so that config validation and the workflow's DAG building can
import ``w2s.generation`` cheaply.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from w2s.config import validated
from w2s.prompts import STOP_STRINGS


@dataclass(frozen=True)
class SamplingConfig:
    """How to decode. ``temperature == 0`` is greedy; ``n`` samples share one request per prompt."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    seed: int = 0
    stop: tuple[str, ...] = STOP_STRINGS

    def __post_init__(self) -> None:
        # Frozen dataclass: normalise a list given from YAML into a tuple so the object stays hashable.
        object.__setattr__(self, "stop", tuple(self.stop or ()))
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {self.max_new_tokens!r}.")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 means greedy), got {self.temperature!r}.")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}.")
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"n (samples per prompt) must be a positive integer, got {self.n!r}.")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise ValueError(f"stop strings must be non-empty strings, got {self.stop!r}.")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def as_dict(self) -> dict:
        return {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "n": self.n,
            "seed": self.seed,
            "stop": list(self.stop),
        }


# Set by the calling code (tests, benchmarks, the job), not by the config.
RUNTIME_ENGINE_KEYS = ("device", "work_dir", "progress")


def engine_settings(engine: dict | None) -> dict:
    """The config's generation block, checked against config/schema.yaml (``$defs.generation``)
    with its defaults filled; unset (None) keys take the defaults. Raises ValueError (ConfigError)."""
    engine = {k: v for k, v in (engine or {}).items() if v is not None}
    runtime = {k: engine.pop(k) for k in RUNTIME_ENGINE_KEYS if k in engine}
    runtime.setdefault("progress", True)
    return {**validated("generation", engine, "engine"), **runtime}


def derive_seed(seed: int, key: str | int) -> int:
    """A stable 31-bit seed from a base seed and a key (a request id, a sample index).

    sha256, not ``hash()``: Python salts string hashes per process, and a resumed job must draw
    exactly what the uninterrupted one would have drawn.
    """
    digest = hashlib.sha256(f"{int(seed)}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFFFFFF


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Text before the earliest stop string, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


@dataclass
class Completion:
    text: str
    finish_reason: str  # "stop" (stop string or end of sequence token) or "length"
    num_tokens: int  # tokens the model generated for this sequence (what it cost)


@dataclass
class Counters:
    """Token accounting of one backend; prompt tokens computed vs submitted shows what sharing saved."""

    prompt_tokens_submitted: int = 0  # prompt tokens of every sequence (n per prompt), as if each were alone
    prompt_tokens_computed: int = 0  # prompt positions actually run through the model (padding included)
    generated_tokens: int = 0
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "prompt_tokens_submitted": self.prompt_tokens_submitted,
            "prompt_tokens_computed": self.prompt_tokens_computed,
            "generated_tokens": self.generated_tokens,
        }


@dataclass
class Prepared:
    """Prompts tokenised once, cut into batches by a rule that depends only on the full list."""

    prompts: list[str]
    token_ids: list[list[int]]
    batches: list[list[int]]  # indices into prompts; every index exactly once
    prefix_len: int = 0  # tokens shared by every prompt, computed once (transformers backend)


def check_batches(batches: list[list[int]], count: int) -> None:
    flat = sorted(i for b in batches for i in b)
    if flat != list(range(count)):
        raise AssertionError("internal error: the batch plan does not cover every prompt exactly once")


class Backend:
    """The interface both backends implement; ``generate`` is the direct entry for tests and benches.

    ``prepare`` tokenises every prompt and fixes the batch plan from the whole list, so a resumed job
    (which skips finished batches) decodes each remaining batch with exactly the same neighbours as
    an uninterrupted one. ``run_batch`` decodes one planned batch.
    """

    name = "base"
    counters: Counters
    engine: dict

    def prepare(self, prompts: Sequence[str], sampling: SamplingConfig, names: Sequence[str] | None = None) -> Prepared:
        raise NotImplementedError

    def run_batch(
        self, prep: Prepared, batch: list[int], sampling: SamplingConfig, seeds: list[int]
    ) -> list[list[Completion]]:
        raise NotImplementedError

    def generate_completions(
        self, prompts: Sequence[str], sampling: SamplingConfig, seeds: Sequence[int] | None = None
    ) -> list[list[Completion]]:
        from tqdm import tqdm

        prompts = list(prompts)
        if seeds is None:
            seeds = [derive_seed(sampling.seed, i) for i in range(len(prompts))]
        if len(seeds) != len(prompts):
            raise ValueError(f"got {len(seeds)} seeds for {len(prompts)} prompts; give one seed per prompt.")
        prep = self.prepare(prompts, sampling)
        results: list[list[Completion] | None] = [None] * len(prompts)
        with tqdm(total=len(prompts), desc=f"generate ({self.name})", unit="prompt", file=sys.stderr,
                  disable=not self.engine["progress"]) as bar:
            for batch in prep.batches:
                outs = self.run_batch(prep, batch, sampling, [seeds[i] for i in batch])
                for i, out in zip(batch, outs, strict=True):
                    results[i] = out
                bar.update(len(batch))
        return results  # type: ignore[return-value]

    def generate(self, prompts: Sequence[str], sampling: SamplingConfig, seeds: Sequence[int] | None = None) -> list[list[str]]:
        """n response texts per prompt, each cut before the first stop string."""
        return [[c.text for c in cs] for cs in self.generate_completions(prompts, sampling, seeds)]
