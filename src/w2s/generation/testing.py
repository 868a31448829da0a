"""A tiny Llama and tokenizer built locally, for tests and benchmarks of the generation backends.

No downloads: the tokenizer is a byte-level BPE trained in well under a second on a few hundred
synthetic lines, the model a randomly initialised Llama. The attention head size is 32 because
vLLM's CPU attention rejects smaller heads (DESIGN.md). A larger ``initializer_range`` than
Llama's default spreads the logits, so greedy decoding has clear winners and the comparisons
between code paths test the code, not float rounding between near-equal logits.
"""

from __future__ import annotations

import random
from pathlib import Path

SPECIAL_TOKENS = ("<s>", "</s>", "<pad>")


def synthetic_lines(count: int = 400, seed: int = 0) -> list[str]:
    """Short arithmetic question/answer lines in the workflow's prompt format."""
    rng = random.Random(seed)
    names = ["Ann", "Bob", "Cid", "Dee", "Eve", "Fay", "Gus", "Hal"]
    things = ["apples", "pens", "cups", "books", "coins", "shells"]
    lines = []
    for _ in range(count):
        a, b = rng.randint(1, 20), rng.randint(1, 20)
        name, thing = rng.choice(names), rng.choice(things)
        lines.append(
            f"Question: {name} has {a} {thing} and buys {b} more. How many {thing} now?\n"
            f"Answer: {name} has {a} + {b} = {a + b} {thing}.\n#### {a + b}"
        )
    return lines


def _ascii_alphabet() -> list[str]:
    from tokenizers import pre_tokenizers

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    chars = [chr(c) for c in range(32, 127)] + ["\n"]
    return sorted({byte_level.pre_tokenize_str(c)[0][0] for c in chars})


def build_tokenizer(folder: str | Path, *, vocab_size: int = 320, with_pad: bool = True, seed: int = 0):
    """Train a byte-level BPE on synthetic lines and save it as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = [t for t in SPECIAL_TOKENS if with_pad or t != "<pad>"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        # Only printable ASCII (and newline) in the alphabet: a random model then always writes valid
        # UTF-8, so texts from different detokenisers (ours, vLLM's incremental one) can be compared.
        initial_alphabet=_ascii_alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(synthetic_lines(seed=seed), trainer=trainer)
    kwargs = {"bos_token": "<s>", "eos_token": "</s>"}
    if with_pad:
        kwargs["pad_token"] = "<pad>"
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)
    Path(folder).mkdir(parents=True, exist_ok=True)
    hf_tok.save_pretrained(folder)
    return hf_tok


def build_llama(
    folder: str | Path,
    tokenizer,
    *,
    hidden: int = 64,
    heads: int = 2,
    layers: int = 2,
    intermediate: int = 128,
    init_range: float = 0.3,
    seed: int = 0,
):
    """A random Llama with head_dim = hidden / heads, saved with its tokenizer in ``folder``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        head_dim=hidden // heads,
        max_position_embeddings=2048,
        initializer_range=init_range,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model


def build_tiny_model(folder: str | Path, *, with_pad: bool = True, seed: int = 0, **model_kwargs) -> str:
    """Tokenizer + random Llama in one folder; returns the folder as a string."""
    tok = build_tokenizer(folder, with_pad=with_pad, seed=seed)
    build_llama(folder, tok, seed=seed, **model_kwargs)
    return str(folder)


def word_problem(rng: random.Random) -> tuple[str, str]:
    """A 1-4 step problem and its step-by-step answer ending ``#### N``: answers of varied length."""
    names = ["Ann", "Bob", "Cid", "Dee", "Eve", "Fay", "Gus", "Hal"]
    things = ["apples", "pens", "cups", "books", "coins", "shells"]
    name, thing = rng.choice(names), rng.choice(things)
    total = rng.randint(1, 20)
    question = [f"{name} has {total} {thing}."]
    steps = []
    for _ in range(rng.randint(1, 4)):
        k = rng.randint(1, 9)
        if rng.random() < 0.5 or total <= k:
            question.append(f"Then {name} buys {k} more.")
            steps.append(f"{total} + {k} = {total + k}")
            total += k
        else:
            question.append(f"Then {name} gives {k} away.")
            steps.append(f"{total} - {k} = {total - k}")
            total -= k
    question.append(f"How many {thing} now?")
    return " ".join(question), "\n".join(steps) + f"\n#### {total}"


def train_tiny_lm(folder: str | Path, *, steps: int = 300, batch: int = 32, seed: int = 0, lr: float = 3e-3,
                  threads: int = 1) -> dict:
    """A tiny Llama trained briefly on word problems, so it writes answers of varied length and then
    stops (end-of-sequence token): the benchmark needs a model whose rows finish at different times.
    Returns timing and the final training loss."""
    import time

    import torch

    torch.set_num_threads(threads)
    rng = random.Random(seed)
    pairs = [word_problem(rng) for _ in range(3000)]
    texts = [f"Question: {q}\nAnswer: {a}" for q, a in pairs]
    tok = build_tokenizer(folder, seed=seed)
    model = build_llama(folder, tok, seed=seed, init_range=0.02)
    eos = tok.eos_token_id
    data = [tok(t)["input_ids"] + [eos] for t in texts]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    gen = random.Random(seed + 1)
    model.train()
    t0 = time.perf_counter()
    loss = None
    for step in range(steps):
        rows = [data[gen.randrange(len(data))] for _ in range(batch)]
        width = max(len(r) for r in rows)
        ids = torch.full((batch, width), tok.pad_token_id, dtype=torch.long)
        labels = torch.full((batch, width), -100, dtype=torch.long)
        mask = torch.zeros((batch, width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            labels[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 20) * (1 - step / steps)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return {"seconds": time.perf_counter() - t0, "loss": float(loss.detach()), "steps": steps}
