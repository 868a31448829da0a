"""The toy world's models: a tiny ``LlamaForCausalLM``, optionally "pretrained" on synthetic text.

``cfg`` is a validated toy model, ``models.<name>.toy`` (config/schema.yaml ``$defs.toy_model``,
its pretraining-text problem settings filled from toy.data by ``w2s.config``).
"""

from __future__ import annotations

import logging
import math
import random
import time

from ..io import InputError, atomic_dir
from .problems import questions_of_splits
from .text import pretraining_text
from .tokenizer import load_tokenizer

log = logging.getLogger(__name__)
# Progress lines per pretraining in the job's log: the strong model's is a 10-16 minute job.
PROGRESS_LINES = 20


def model_config(cfg: dict, tokenizer):
    """The ``LlamaConfig`` of a toy model; head_dim = hidden / heads must be >= 32 (vLLM CPU)."""
    from transformers import LlamaConfig

    hidden, heads = int(cfg["hidden"]), int(cfg["heads"])
    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
    if hidden // heads < 32:
        raise ValueError(
            f"head_dim = hidden/heads = {hidden // heads}; vLLM's CPU build needs >= 32 (it dies on the "
            "first generate with 16). Use fewer heads."
        )
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=int(cfg["intermediate"]),
        num_hidden_layers=int(cfg["layers"]),
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=int(cfg["max_position"]),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,  # halves the parameters; the logits layer dominates at this size
    )


def _pretraining_steps(cfg: dict, seed: int, exclude: set[str], seen: set[str] | None = None):
    """The texts of every pretraining step, in order (``seen``: see ``pretraining_text``).

    Fresh rows for every step (no repeats), from a seed of their own. A step has rows of k
    documents each, k drawn per step, and about batch_size documents in all.
    """
    steps, bs = int(cfg["pretrain_steps"]), int(cfg["batch_size"])
    max_docs = int(cfg["max_docs_per_row"])
    rng = random.Random(seed * 1000 + 17)
    single = int(steps * float(cfg["single_doc_share"]))
    for step in range(steps):
        # A curriculum: single documents first (the model learns to read a question at a fixed
        # place), then rows of 1..max_docs (it learns to read the last one and follow the format).
        k = 1 if step < single else rng.randint(1, max_docs)
        yield pretraining_text(max(1, round(bs / k)), rng.randrange(2**31), cfg, exclude, docs_per_row=k,
                               seen=seen)


def pretraining_questions(cfg: dict, seed: int, exclude: set[str]) -> set[str]:
    """Every question in the pretraining text of a toy model (``cfg``, ``seed``, ``exclude`` as
    ``pretrain`` takes them): what an evaluation on questions the model never read must avoid."""
    seen: set[str] = set()
    for _ in _pretraining_steps(cfg, seed, exclude, seen):
        pass
    return seen


def _pretraining_batches(tokenizer, cfg: dict, seed: int,
                         exclude: set[str]) -> tuple[list[list[list[int]]], int]:
    """The token rows of every pretraining step (``_pretraining_steps``), and their token count."""
    seq_len = int(cfg["seq_len"])
    batches: list[list[list[int]]] = []
    n_tokens = 0
    for texts in _pretraining_steps(cfg, seed, exclude):
        enc = tokenizer(texts, add_special_tokens=True)["input_ids"]
        rows = [(d + [tokenizer.eos_token_id])[:seq_len] for d in enc]
        n_tokens += sum(len(r) for r in rows)
        batches.append(rows)
    return batches, n_tokens


def _lr_factor(step: int, steps: int, warmup: int) -> float:
    """Linear warmup, then cosine decay to 10% of the peak learning rate."""
    if step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t))


def _padded(rows: list[list[int]], pad_id: int):
    """input_ids, attention_mask and labels of one batch, rows right-padded to the longest."""
    import torch

    width = max(len(d) for d in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, d in enumerate(rows):
        ids[i, : len(d)] = torch.tensor(d)
        mask[i, : len(d)] = 1
    return ids, mask, ids.masked_fill(mask == 0, -100)  # the model shifts the labels itself


def pretrain(model, tokenizer, cfg: dict, seed: int, exclude: set[str], threads: int = 1) -> dict:
    """Causal-LM training on synthetic documents; plain PyTorch (faster than Trainer here).

    Each row starts at position 0 with ``<s>`` and ends with ``</s>``, padded to the longest in
    its batch: packing text at random offsets made a 250-step model ignore the question and write
    generic solutions (measured), while rows aligned like the task's prompts learn to read the
    question in the same budget.
    """
    import torch

    steps = int(cfg["pretrain_steps"])
    if steps <= 0:
        return {"steps": 0, "loss": None, "seconds": 0.0, "cpu_seconds": 0.0, "tokens": 0}
    warmup = int(cfg["warmup_steps"])
    batches, n_tokens = _pretraining_batches(tokenizer, cfg, seed, exclude)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=float(cfg["lr"]), weight_decay=0.01, betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: _lr_factor(step, steps, warmup))
    model.train()
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    t0, c0 = time.perf_counter(), time.process_time()
    losses = []
    every = max(1, steps // PROGRESS_LINES)
    try:
        for step, rows in enumerate(batches, 1):
            ids, mask, labels = _padded(rows, tokenizer.pad_token_id)
            out = model(input_ids=ids, attention_mask=mask, labels=labels)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(out.loss.item())
            if step % every == 0 or step == steps:
                seconds = time.perf_counter() - t0
                recent = losses[-every:]
                log.info("pretraining step %d/%d: loss %.4f (mean of the last %d), %.0f s, about %.0f s left",
                         step, steps, sum(recent) / len(recent), len(recent), seconds,
                         seconds / step * (steps - step))
    finally:
        torch.set_num_threads(old_threads)
    model.eval()
    tail = losses[-max(1, steps // 10):]
    return {"steps": steps, "loss": sum(tail) / len(tail), "seconds": time.perf_counter() - t0,
            "cpu_seconds": time.process_time() - c0, "tokens": n_tokens}


def build_model(out_dir: str, tokenizer_dir: str, data_dir: str, cfg: dict, seed: int,
                threads: int = 1) -> dict:
    """Make a tiny ``LlamaForCausalLM``, optionally pretrain it, save model + tokenizer to ``out_dir``.

    The pretraining text never contains a train_2 or test question of ``data_dir`` (nor a train_1
    one). Returns metrics: parameters, steps, final loss, seconds, tokens.
    """
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM

    tokenizer = load_tokenizer(tokenizer_dir)
    if tokenizer.pad_token_id is None or tokenizer.pad_token_id == tokenizer.eos_token_id:
        raise InputError(f"{tokenizer_dir}: the tokenizer needs a pad token distinct from eos.")
    exclude = questions_of_splits(data_dir)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(model_config(cfg, tokenizer))
    metrics = pretrain(model, tokenizer, cfg, seed, exclude, threads)
    metrics["parameters"] = sum(p.numel() for p in model.parameters())
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, do_sample=False,
    )
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return metrics
