"""Generation backends: Hugging Face transformers (default, CPU-friendly) and vLLM (GPU clusters).

Public API::

    SamplingConfig(max_new_tokens, temperature=0.0, top_p=1.0, n=1, seed=0, stop=STOP_STRINGS)
    generate_file(requests, output_path, model, sampling, engine, work_dir, threads=1, metrics_path=None) -> dict
    make_backend(model, engine, threads) -> backend with .generate(prompts, sampling, seeds) -> list[list[str]]
    derive_seed(seed, key) -> int      # the per-request seed recorded in every output row

``engine`` is the config's backend block: {"backend": "transformers" | "vllm", "batch_size",
"dtype", "tensor_parallel_size", "gpu_memory_utilization", "max_model_len",
"enable_prefix_caching", ...}; missing keys take config/schema.yaml's defaults (``$defs.generation``). torch and vLLM are imported only
when a backend is made.
"""

from .common import Completion, Counters, SamplingConfig, cut_at_stop, derive_seed, engine_settings
from .job import generate_file, make_backend

__all__ = [
    "Completion",
    "Counters",
    "SamplingConfig",
    "cut_at_stop",
    "derive_seed",
    "engine_settings",
    "generate_file",
    "make_backend",
]
