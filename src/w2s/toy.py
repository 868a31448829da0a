"""The toy world: a GSM8K-like task, a tokenizer and two tiny Llama models, made on a CPU in minutes.

It lets the whole weak-to-strong workflow run end to end with no downloads and no GPU, loading
every model exactly as it would load a real one (``from_pretrained`` on a folder).

- ``make_problems``: seeded short arithmetic word problems (1..max_steps steps, + - *), each with a
  GSM8K-style gold solution (one step per line, ``<<a+b=c>>`` calculator notes, ``#### N``).
- ``build_toy_data``: train_1 / train_2 / test in the raw GSM8K format, no question in two splits.
- ``train_tokenizer``: a byte-level BPE with a small vocabulary, every number up to ``max_value``
  one token (CPU time of these models goes to the vocabulary width: keep it small).
- ``build_model``: a tiny ``LlamaForCausalLM``, optionally "pretrained" with a plain PyTorch loop on
  synthetic text. That text leaves out every train_2 and test question and mostly leaves out the
  task's exact ``Question: ...\\nAnswer: ... #### N`` format, so the strong model has the latent
  ability (it can solve the problems) but not the task format: it has to pick the format up from
  the weak model's demonstrations, like the paper's base 70B models.

``DEFAULT_CFG`` holds the calibrated values; ``bench/toy_world.py`` measures them (see the numbers in
its docstring).
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from .io import InputError, atomic_dir, read_jsonl, write_jsonl

# Calibrated with bench/toy_world.py (numbers in its docstring). Sections are passed as slices:
# build_toy_data(cfg=DEFAULT_CFG["data"]), train_tokenizer(cfg=DEFAULT_CFG["tokenizer"]),
# build_model(cfg=DEFAULT_CFG["weak"] or DEFAULT_CFG["strong"]). "sft" records the SFT settings
# the calibration used (a suggestion for the workflow's config, not read here).
DEFAULT_CFG: dict = {
    "data": {
        "train_1": 2000,
        "train_2": 500,
        "test": 300,
        "max_steps": 3,  # operations per problem: 1..max_steps
        "max_operand": 10,  # numbers a problem introduces
        "max_value": 100,  # no intermediate or final value above this (all one token)
    },
    "tokenizer": {"vocab_size": 700},
    "weak": {
        "layers": 2,
        "hidden": 64,
        "heads": 2,  # head_dim 32: the smallest vLLM's CPU build runs
        "intermediate": 256,
        "max_position": 1024,
        "pretrain_steps": 0,  # the weak model learns the task from train_1 gold only
    },
    "strong": {
        "layers": 4,
        "hidden": 128,
        "heads": 4,
        "intermediate": 512,
        "max_position": 1024,
        "pretrain_steps": 800,
        "batch_size": 16,  # documents per step (rows of k documents: about 16/k rows)
        "seq_len": 512,  # longest row kept (a toy document is ~70 tokens)
        "max_docs_per_row": 5,  # a 4-shot prompt is 5 documents
        "single_doc_share": 0.3,  # the first steps see one document per row
        "lr": 3e-3,
        "warmup_steps": 30,
        # Shares of the pretraining documents: raw equations (arithmetic facts), the task's exact
        # format (a little, so the model recognises "#### N" when demonstrations show it), and the
        # rest word problems in other formats.
        "equation_share": 0.2,
        "target_format_share": 0.08,
    },
    "sft": {
        "weak": {"steps": 600, "batch_size": 32, "lr": 3e-3},
        "strong": {"steps": 150, "batch_size": 16, "lr": 1e-3},
    },
}

SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}

# --------------------------------------------------------------------------- problems

_PEOPLE = [
    ("Tom", "he", "his"), ("Anna", "she", "her"), ("Ben", "he", "his"), ("Mia", "she", "her"),
    ("Sam", "he", "his"), ("Lily", "she", "her"), ("Jack", "he", "his"), ("Emma", "she", "her"),
    ("Leo", "he", "his"), ("Zoe", "she", "her"), ("Max", "he", "his"), ("Ella", "she", "her"),
    ("Noah", "he", "his"), ("Ava", "she", "her"), ("Luke", "he", "his"), ("Grace", "she", "her"),
]
_FRIENDS = ["a friend", "{his} sister", "{his} brother", "a neighbor", "a classmate", "the teacher"]
_ITEMS = [
    ("apple", "apples"), ("book", "books"), ("marble", "marbles"), ("sticker", "stickers"),
    ("cookie", "cookies"), ("pencil", "pencils"), ("card", "cards"), ("shell", "shells"),
    ("coin", "coins"), ("flower", "flowers"), ("toy car", "toy cars"), ("stamp", "stamps"),
    ("egg", "eggs"), ("balloon", "balloons"), ("candy", "candies"), ("crayon", "crayons"),
]
_CONTAINERS = ["bags", "boxes", "packs", "jars", "baskets"]


def _note(a: int, op: str, b: int, r: int) -> str:
    """An equation with a GSM8K calculator note: ``5 + 3 = <<5+3=8>>8``."""
    return f"{a} {op} {b} = <<{a}{op}{b}={r}>>{r}"


def _problem(rng: random.Random, n_steps: int, cfg: dict) -> dict | None:
    """One word problem with exactly ``n_steps`` operations, or None when the draw ran out of room.

    Returns question, solution (GSM8K style, with notes, ending ``#### N``), answer (int) and
    equations (the bare ``a op b = c`` of each step, for other text formats).
    """
    max_operand = int(cfg.get("max_operand", 20))
    max_value = int(cfg.get("max_value", 400))
    name, he, his = rng.choice(_PEOPLE)
    He, His = he.capitalize(), his.capitalize()
    item, items = rng.choice(_ITEMS)
    friend = rng.choice(_FRIENDS).format(his=his)
    v = rng.randint(2, max_operand)
    question = [f"{name} has {v} {items}."]
    lines: list[str] = []
    eqs: list[str] = []

    def of(k: int) -> str:  # "1 apple", "3 apples"
        return f"{k} {item if k == 1 else items}"

    def step(a: int, op: str, b: int, r: int) -> str:
        eqs.append(f"{a} {op} {b} = {r}")
        return _note(a, op, b, r)

    # A quarter of the problems end with a price question: one more multiplication.
    price_end = rng.random() < 0.25
    steps_left = n_steps - 1 if price_end else n_steps
    for _ in range(20 * n_steps + 20):
        if steps_left <= 0:
            break
        kind = rng.choice(["add", "sub", "mul"] + (["packs"] if steps_left >= 2 else []))
        if kind == "add" and v < max_value:
            b = rng.randint(1, min(max_operand, max_value - v))
            r = v + b
            verb = rng.randrange(3)
            if verb == 0:
                question.append(f"{He} buys {b} more {item if b == 1 else items}.")
                lines.append(f"After buying {b} more, {he} has {step(v, '+', b, r)} {items}.")
            elif verb == 1:
                question.append(f"{He} finds {b} more {item if b == 1 else items}.")
                lines.append(f"After finding {b} more, {he} has {step(v, '+', b, r)} {items}.")
            else:
                question.append(f"{friend[0].upper() + friend[1:]} gives {name} {b} more {item if b == 1 else items}.")
                lines.append(f"After getting {b} more, {he} has {step(v, '+', b, r)} {items}.")
        elif kind == "sub" and v >= 2:
            b = rng.randint(1, min(max_operand, v - 1))
            r = v - b
            verb = rng.randrange(3)
            if verb == 0:
                question.append(f"{He} gives {of(b)} to {friend}.")
                lines.append(f"After giving away {b}, {he} has {step(v, '-', b, r)} {items}.")
            elif verb == 1:
                question.append(f"{He} loses {of(b)}.")
                lines.append(f"After losing {b}, {he} has {step(v, '-', b, r)} {items}.")
            else:
                question.append(f"{He} sells {of(b)}.")
                lines.append(f"After selling {b}, {he} has {step(v, '-', b, r)} {items}.")
        elif kind == "mul" and 2 * v <= max_value:
            k = rng.randint(2, min(5, max_value // v))
            r = v * k
            word = {2: "doubles", 3: "triples"}.get(k)
            if word and rng.random() < 0.5:
                question.append(f"Then the number of {items} {he} has {word}.")
            else:
                question.append(f"Then {he} has {k} times as many {items} as before.")
            lines.append(f"Then {he} has {step(v, '*', k, r)} {items}.")
        elif kind == "packs":
            k, b = rng.randint(2, 5), rng.randint(2, 10)
            if v + k * b > max_value:
                continue
            c = rng.choice(_CONTAINERS)
            question.append(f"{He} buys {k} {c} of {items} with {b} {items} in each.")
            lines.append(f"The {c} hold {step(k, '*', b, k * b)} {items}.")
            r = v + k * b
            lines.append(f"So {he} has {step(v, '+', k * b, r)} {items}.")
            steps_left -= 1  # two operations
        else:
            continue
        v = r
        steps_left -= 1
    if steps_left > 0:
        return None
    if price_end:
        p_max = min(max(2, max_operand // 2), max_value // max(v, 1))
        if v < 1 or p_max < 2:
            return None
        p = rng.randint(2, p_max)
        total = v * p
        question.append(f"Each {item} costs {p} dollars. How many dollars are all of {his} {items} worth?")
        lines.append(f"{His} {items} are worth {step(v, '*', p, total)} dollars.")
        v = total
    else:
        question.append(f"How many {items} does {name} have now?")
    lines.append(f"#### {v}")
    return {"question": " ".join(question), "solution": "\n".join(lines), "answer": v, "equations": eqs}


def _draw(rng: random.Random, cfg: dict) -> dict:
    max_steps = int(cfg.get("max_steps", 3))
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    for _ in range(1000):
        p = _problem(rng, rng.randint(1, max_steps), cfg)
        if p is not None:
            return p
    raise ValueError(f"toy problems: no problem fits max_value={cfg.get('max_value')}; raise it.")


def make_problems(n: int, seed: int, cfg: dict, exclude: set[str] | None = None) -> list[dict]:
    """``n`` distinct seeded word problems, none of whose question is in ``exclude``.

    Each is ``{"id", "question", "answer"}`` where ``answer`` is a GSM8K-style gold solution with
    calculator notes ending ``#### N``. The step count is uniform in 1..``cfg["max_steps"]``.
    """
    rng = random.Random(seed)
    exclude = exclude or set()
    seen: set[str] = set()
    out: list[dict] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n + 1000:
            raise ValueError(
                f"could not make {n} distinct problems (max_steps={cfg.get('max_steps')}, max_operand="
                f"{cfg.get('max_operand')}): the problem space is too small; raise max_operand or max_steps."
            )
        p = _draw(rng, cfg)
        if p["question"] in seen or p["question"] in exclude:
            continue
        seen.add(p["question"])
        out.append({"id": f"toy{seed}-{len(out):05d}", "question": p["question"], "answer": p["solution"]})
    return out


def final_answer(solution: str) -> str:
    """The number after the last ``####`` ('' when there is none)."""
    if "####" not in solution:
        return ""
    tail = solution.rsplit("####", 1)[1].strip().split()
    return tail[0].replace(",", "") if tail else ""


def strip_notes(solution: str) -> str:
    """The solution without ``<<...>>`` calculator notes, as the workflow's SFT targets are."""
    return _CALC_NOTE.sub("", solution)


SPLITS = ("train_1", "train_2", "test")
_CALC_NOTE = re.compile(r"<<[^<>]*>>")


def build_toy_data(out_dir: str, cfg: dict, seed: int) -> None:
    """Write ``train_1.jsonl``, ``train_2.jsonl``, ``test.jsonl`` (raw GSM8K format) to ``out_dir``.

    The splits come from one draw of distinct problems, so no question appears in two splits.
    """
    sizes = {s: int(cfg[s]) for s in SPLITS}
    for s, k in sizes.items():
        if k < 1:
            raise ValueError(f"toy data: split {s} needs at least one problem, got {k}")
    problems = make_problems(sum(sizes.values()), seed, cfg)
    out = Path(out_dir)
    start = 0
    for s in SPLITS:
        rows = problems[start : start + sizes[s]]
        start += sizes[s]
        write_jsonl(out / f"{s}.jsonl", (
            {"id": f"toy-{s}-{i:05d}", "question": r["question"], "answer": r["answer"]} for i, r in enumerate(rows)
        ))


def _read_split(data_dir: str | Path, split: str) -> list[dict]:
    return read_jsonl(Path(data_dir) / f"{split}.jsonl", {"question": str})


# --------------------------------------------------------------------------- pretraining text

def _equations(rng: random.Random, cfg: dict, n_lines: int) -> str:
    """Raw arithmetic facts: half from problems' own steps (the values they reach), half uniform."""
    max_operand = int(cfg.get("max_operand", 20))
    max_value = int(cfg.get("max_value", 400))
    lines: list[str] = []
    while len(lines) < n_lines:
        if rng.random() < 0.5:
            lines.extend(_draw(rng, cfg)["equations"])
            continue
        op = rng.choice("+-*")
        if op == "+":
            b = rng.randint(1, max_operand)
            a = rng.randint(0, max_value - b)
            lines.append(f"{a} + {b} = {a + b}")
        elif op == "-":
            b = rng.randint(1, max_operand)
            a = rng.randint(b, max_value)
            lines.append(f"{a} - {b} = {a - b}")
        else:
            k = rng.randint(2, max(2, max_operand // 2))
            a = rng.randint(1, max(1, max_value // k))
            lines.append(f"{a} * {k} = {a * k}" if rng.random() < 0.5 else f"{k} * {a} = {a * k}")
    return "\n".join(lines[:n_lines])


# Formats of the pretraining text. A row (one training sequence) holds 1..max_docs_per_row documents
# in ONE format, separated by a blank line like the demonstrations of a few-shot prompt: the format
# of a row's first documents predicts the rest, so the model can learn to follow the format that
# in-context demonstrations show. The task's exact format (Question/Answer, steps, "#### N") is
# one format among several, with share target_format_share of the rows; the "Question: ...
# Answer:" prefix also comes with other endings, so zero-shot the model mostly ends in a format of
# its own (measured: without any target format it never wrote "####", even after 4 demonstrations).
_PREFIXES = (("Question: ", "\nAnswer: "), ("Problem: ", "\nSolution: "), ("Q: ", "\nA: "))
_ENDINGS = ("The answer is {}.", "So the final answer is {}.", "The result is {}.", "Result: {}", "In total: {}.")
TARGET_ENDING = "#### {}"


def _row(rng: random.Random, cfg: dict, exclude: set[str], n_docs: int, equation_share: float,
         target_share: float) -> str:
    u = rng.random()
    if u < equation_share:
        return "\n\n".join(_equations(rng, cfg, rng.randint(8, 16)) for _ in range(n_docs))
    if u < equation_share + target_share:
        (head, mid), ending, terse = _PREFIXES[0], TARGET_ENDING, False
    else:
        (head, mid), ending, terse = rng.choice(_PREFIXES), rng.choice(_ENDINGS), rng.random() < 0.2
    docs = []
    for _ in range(n_docs):
        while True:
            p = _draw(rng, cfg)
            if p["question"] not in exclude:
                break
        if terse:
            steps = ". ".join(p["equations"]) + "."
        else:
            steps = strip_notes(p["solution"]).rsplit("\n####", 1)[0]
        docs.append(f"{head}{p['question']}{mid}{steps}\n{ending.format(p['answer'])}")
    return "\n\n".join(docs)


def pretraining_text(n_rows: int, seed: int, cfg: dict, exclude: set[str], docs_per_row: int | None = None) -> list[str]:
    """``n_rows`` seeded pretraining sequences; no problem whose question is in ``exclude``.

    A row is equations (share ``equation_share``) or 1..``max_docs_per_row`` problems with their
    solutions in one format; rows in the task's answer format (``#### N``) have share
    ``target_format_share``, the others end "The answer is N." and the like. ``docs_per_row``
    fixes the number of documents per row (batches of equal-length rows pad little).
    """
    rng = random.Random(seed)
    eq = float(cfg.get("equation_share", 0.2))
    tgt = float(cfg.get("target_format_share", 0.07))
    max_docs = int(cfg.get("max_docs_per_row", 5))
    if not (0 <= eq and 0 <= tgt and eq + tgt <= 1):
        raise ValueError(f"equation_share ({eq}) and target_format_share ({tgt}) must be >= 0 and sum to <= 1")
    return [_row(rng, cfg, exclude, docs_per_row or rng.randint(1, max_docs), eq, tgt) for _ in range(n_rows)]


# --------------------------------------------------------------------------- tokenizer

def _tokenizer_corpus(data_dir: str | Path, cfg: dict) -> Iterator[str]:
    rows = {s: read_jsonl(Path(data_dir) / f"{s}.jsonl", {"question": str, "answer": str}) for s in SPLITS}
    # Every number up to max_value (default: the largest in the data) gets a token of its own.
    max_value = int(cfg.get("max_value") or max(
        int(x) for s in SPLITS for r in rows[s] for x in re.findall(r"\d+", r["question"] + r["answer"])))
    # Questions of every split (the model must read them), gold solutions of train_1 only, without
    # calculator notes: no model ever reads the notes, so they get no merges.
    for s in SPLITS:
        for r in rows[s]:
            yield f"Question: {r['question']}"
            if s == "train_1":
                yield f"Answer: {strip_notes(r['answer'])}"
    # The pretraining formats, so their words are tokens too.
    yield from pretraining_text(200, 0, {**DEFAULT_CFG["data"], **cfg, "max_value": max_value}, set())
    # The numbers after a space, as in the text, many times over so that each wins a merge.
    nums = " ".join(str(i) for i in range(max_value + 1))
    for _ in range(1000):
        yield "= " + nums


def train_tokenizer(out_dir: str, data_dir: str, cfg: dict, seed: int) -> None:
    """Train a byte-level BPE on the toy text and save it as a ``PreTrainedTokenizerFast``.

    Special tokens ``<s> </s> <pad> <unk>`` (pad is not eos, so a model learns to stop); encoding
    adds ``<s>`` in front like Llama's tokenizer. ``seed`` is accepted for a uniform interface:
    BPE training has no randomness.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    del seed
    vocab_size = int(cfg.get("vocab_size", 1000))
    tok = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = [SPECIAL_TOKENS[k] for k in ("bos_token", "eos_token", "pad_token", "unk_token")]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_tokenizer_corpus(data_dir, cfg), trainer=trainer)
    bos = SPECIAL_TOKENS["bos_token"]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.token_to_id(bos))]
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=int(cfg.get("model_max_length", 1024)),
                                   **SPECIAL_TOKENS)
    with atomic_dir(out_dir) as tmp:
        fast.save_pretrained(tmp)


def load_tokenizer(path: str | Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


# --------------------------------------------------------------------------- models

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
        max_position_embeddings=int(cfg.get("max_position", 1024)),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,  # halves the parameters; the logits layer dominates at this size
    )


def pretrain(model, tokenizer, cfg: dict, seed: int, exclude: set[str], threads: int = 1) -> dict:
    """Causal-LM training on synthetic documents; plain PyTorch (faster than Trainer here).

    Each row starts at position 0 with ``<s>`` and ends with ``</s>``, padded to the longest in
    its batch: packing text at random offsets made a 250-step model ignore the question and write
    generic solutions (measured), while rows aligned like the task's prompts learn to read the
    question in the same budget.
    """
    import torch

    steps = int(cfg.get("pretrain_steps", 0))
    if steps <= 0:
        return {"steps": 0, "loss": None, "seconds": 0.0, "cpu_seconds": 0.0, "tokens": 0}
    bs, seq_len, lr = int(cfg["batch_size"]), int(cfg["seq_len"]), float(cfg["lr"])
    warmup = int(cfg.get("warmup_steps", max(1, steps // 20)))
    gen_cfg = {**DEFAULT_CFG["data"], **cfg}
    max_docs = int(cfg.get("max_docs_per_row", 5))
    # Fresh rows for every step (no repeats), from a seed of their own. A step has rows of k
    # documents each, k drawn per step, and about batch_size documents in all.
    rng = random.Random(seed * 1000 + 17)
    batches: list[list[list[int]]] = []
    n_tokens = 0
    single = int(steps * float(cfg.get("single_doc_share", 0.5)))
    for step in range(steps):
        # A curriculum: single documents first (the model learns to read a question at a fixed
        # place), then rows of 1..max_docs (it learns to read the last one and follow the format).
        k = 1 if step < single else rng.randint(1, max_docs)
        texts = pretraining_text(max(1, round(bs / k)), rng.randrange(2**31), gen_cfg, exclude, docs_per_row=k)
        enc = tokenizer(texts, add_special_tokens=True)["input_ids"]
        rows = [(d + [tokenizer.eos_token_id])[:seq_len] for d in enc]
        n_tokens += sum(len(r) for r in rows)
        batches.append(rows)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.95))

    def lr_at(step: int) -> float:  # linear warmup, cosine decay to 10%
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    model.train()
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    t0, c0 = time.perf_counter(), time.process_time()
    losses = []
    try:
        for step in range(steps):
            rows = batches[step]
            width = max(len(d) for d in rows)
            ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for i, d in enumerate(rows):
                ids[i, : len(d)] = torch.tensor(d)
                mask[i, : len(d)] = 1
            labels = ids.masked_fill(mask == 0, -100)  # the model shifts the labels itself
            out = model(input_ids=ids, attention_mask=mask, labels=labels)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(out.loss.item())
    finally:
        torch.set_num_threads(old_threads)
    model.eval()
    tail = losses[-max(1, steps // 10):]
    return {"steps": steps, "loss": sum(tail) / len(tail), "seconds": time.perf_counter() - t0,
            "cpu_seconds": time.process_time() - c0, "tokens": n_tokens}


def build_model(out_dir: str, tokenizer_dir: str, data_dir: str, cfg: dict, seed: int, threads: int = 1) -> dict:
    """Make a tiny ``LlamaForCausalLM``, optionally pretrain it, save model + tokenizer to ``out_dir``.

    The pretraining text never contains a train_2 or test question of ``data_dir`` (nor a train_1
    one). Returns metrics: parameters, steps, final loss, seconds, tokens.
    """
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM

    tokenizer = load_tokenizer(tokenizer_dir)
    if tokenizer.pad_token_id is None or tokenizer.pad_token_id == tokenizer.eos_token_id:
        raise InputError(f"{tokenizer_dir}: the tokenizer needs a pad token distinct from eos.")
    exclude: set[str] = set()
    for s in SPLITS:
        exclude |= {r["question"] for r in _read_split(data_dir, s)}
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


__all__ = [
    "DEFAULT_CFG", "SPECIAL_TOKENS", "make_problems", "build_toy_data", "train_tokenizer", "build_model",
    "final_answer", "strip_notes", "pretraining_text", "load_tokenizer", "model_config",
]
