"""Calibrate the toy world: run the weak-to-strong pipeline on it with plain transformers, print a table.

    python bench/toy_world.py                       # config/config.yaml's toy world, results/bench/toy_world
    python bench/toy_world.py --set strong.pretrain_steps=400 --set sft.weak.steps=800
    python bench/toy_world.py --reuse               # keep data/tokenizer/models already built there

Steps (each timed, 1 torch thread unless --threads): toy data, tokenizer, weak model (built, then SFT on
train_1 gold with a minimal loop), weak greedy answers on test and train_2, strong model (built with
its pretraining), strong zero-shot on test, strong 4-shot on train_2 with 4 seeded weak answers as
demonstrations, the consistency filter (weak final answer == ICL final answer), the strong model SFT'd
on the kept weak answers (weak-ft), and on train_2 gold (the ceiling). The workflow trains with TRL
(slower per step than this loop, see DESIGN.md); this script only checks that the toy world shows the
effects the workflow needs. glibc malloc settings from DESIGN.md are applied by re-executing itself
(--no-malloc-env to skip).

Answers are graded by the number after the last "####" (strict); "last number" grading is shown for
the base strong model, which may end in its own format.

Settings: the toy world and the two toy models of a workflow config (--config, default
config/config.yaml; toy-weak and toy-strong), validated like the workflow validates it, so every
default comes from config/schema.yaml. --set changes one before validation: data.KEY and
tokenizer.KEY (toy.data, toy.tokenizer), weak.KEY and strong.KEY (models.toy-weak.toy,
models.toy-strong.toy), sft.weak.KEY and sft.strong.KEY (QUICK_SFT, this script's own SFT loop).

Measured on this machine (2 shared AMD EPYC cores, 1 thread), config/config.yaml, seed 0: see the
report in the commit message / README of the toy world; rerun to reproduce.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import sys
import time
from pathlib import Path

MALLOC_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "100000000000", "MALLOC_TOP_PAD_": "1000000000"}
ROOT = Path(__file__).resolve().parents[1]
# The config's models this script calls weak and strong.
MODELS = {"weak": "toy-weak", "strong": "toy-strong"}
# This script's own quick SFT (the minimal loop below, not the workflow's TRL SFT of models.*.sft):
# the settings the calibration used with it.
QUICK_SFT = {
    "weak": {"steps": 600, "batch_size": 32, "lr": 3e-3},
    "strong": {"steps": 150, "batch_size": 16, "lr": 1e-3},
}
# Where a --set key's first part points in the workflow config.
SET_TARGETS = {"data": ("toy", "data"), "tokenizer": ("toy", "tokenizer"),
               **{role: ("models", name, "toy") for role, name in MODELS.items()}}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="results/bench/toy_world", help="work folder (data, models)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--config", default=str(ROOT / "config" / "config.yaml"),
                    help="the workflow config whose toy world and toy models to build")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="change one setting (data., tokenizer., weak., strong., sft.weak., sft.strong.), "
                         "e.g. strong.pretrain_steps=400 (JSON values)")
    ap.add_argument("--reuse", action="store_true", help="reuse data, tokenizer and base models in --work")
    ap.add_argument("--skip", default="", help="comma list of phases to skip: weakft,ceiling")
    ap.add_argument("--max-new-tokens", type=int, default=80)
    ap.add_argument("--no-malloc-env", action="store_true")
    ap.add_argument("--stop-after-weak", action="store_true", help="calibrate the weak side only")
    return ap.parse_args(argv)


def settings(config_path: str, sets: list[str]) -> dict:
    """{"toy": the validated toy block, "weak"/"strong": the validated toy models, "sft": QUICK_SFT},
    each --set KEY=VALUE applied first (a bad one stops the script with the config's message)."""
    from w2s.config import ConfigError, read_config_file, validate_config

    config, sft = read_config_file(config_path), copy.deepcopy(QUICK_SFT)
    for item in sets:
        key, _, value = item.partition("=")
        head, *path = key.split(".")
        if head == "sft":
            node = sft
        elif head in SET_TARGETS:
            node, path = config, [*SET_TARGETS[head], *path]
        else:
            sys.exit(f"--set {item}: the key starts with one of sft, {', '.join(SET_TARGETS)}")
        *path, last = path or [""]
        for k in path:
            node = node.setdefault(k, {})
        try:
            node[last] = json.loads(value)
        except json.JSONDecodeError:
            node[last] = value
    try:
        config = validate_config(config, check_paths=False)
    except ConfigError as e:
        sys.exit(f"error: {e}")
    return {"toy": config["toy"], **{role: config["models"][name]["toy"] for role, name in MODELS.items()},
            "sft": sft}


# --------------------------------------------------------------------------- minimal SFT / generation

def sft(model, tokenizer, rows: list[tuple[str, str]], steps: int, batch_size: int, lr: float, seed: int) -> dict:
    """Prompt/completion SFT, loss on the completion and EOS only; seeded shuffles."""
    import torch

    enc = []
    for prompt, comp in rows:
        p = tokenizer(prompt)["input_ids"]
        c = tokenizer(comp, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        enc.append((p + c, [-100] * len(p) + c))
    rng = random.Random(seed)
    order: list[int] = []
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1 - s / steps) if steps else 1.0)
    model.train()
    t0, c0 = time.perf_counter(), time.process_time()
    losses = []
    for _ in range(steps):
        if len(order) < batch_size:
            perm = list(range(len(enc)))
            rng.shuffle(perm)
            order.extend(perm)
        idx, order = order[:batch_size], order[batch_size:]
        width = max(len(enc[i][0]) for i in idx)
        ids = torch.full((len(idx), width), tokenizer.pad_token_id)
        labels = torch.full((len(idx), width), -100)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for j, i in enumerate(idx):
            x, y = enc[i]
            ids[j, : len(x)] = torch.tensor(x)
            labels[j, : len(y)] = torch.tensor(y)
            mask[j, : len(x)] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.eval()
    tail = losses[-max(1, steps // 10):] or [float("nan")]
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
            "loss": sum(tail) / len(tail), "steps": steps}


STOPS = ("Question", "Answer")


def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int = 64) -> tuple[list[str], float]:
    """Greedy answers, cut at the paper's stop strings; batches of similar prompt length."""
    import torch

    tokenizer.padding_side = "left"
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out = [""] * len(prompts)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True)
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 stop_strings=list(STOPS), tokenizer=tokenizer,
                                 eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
            texts = tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            for i, t in zip(idx, texts):
                for s in STOPS:
                    t = t.split(s, 1)[0]
                out[i] = t.strip()
    return out, time.perf_counter() - t0


def strict_answer(text: str) -> str:
    m = re.findall(r"####\s*(-?[0-9][0-9,]*)", text)
    return m[-1].replace(",", "") if m else ""


def last_number(text: str) -> str:
    m = re.findall(r"-?[0-9][0-9,]*", text)
    return m[-1].replace(",", "") if m else ""


def score(responses: list[str], golds: list[str]) -> dict:
    n = len(responses)
    strict = [strict_answer(r) for r in responses]
    return {
        "acc": sum(a == g for a, g in zip(strict, golds)) / n,
        "acc_last_number": sum(last_number(r) == g for r, g in zip(responses, golds)) / n,
        "has_####": sum(bool(a) for a in strict) / n,
    }


# --------------------------------------------------------------------------- main

def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.no_malloc_env and any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_ENV})

    import torch
    from transformers import AutoModelForCausalLM

    from w2s import toy
    from w2s.io import read_jsonl, write_jsonl
    from w2s.prompts import completion, few_shot_prompt, zero_shot_prompt

    torch.set_num_threads(args.threads)
    cfg = settings(args.config, args.set)
    world = cfg["toy"]
    work = Path(args.work)
    data, tok_dir = work / "data", work / "tokenizer"
    rows_out: list[tuple[str, str, str]] = []  # (what, value, seconds)

    def row(what: str, value: str, seconds: float | None = None) -> None:
        rows_out.append((what, value, "" if seconds is None else f"{seconds:.1f}"))
        print(f"  {what}: {value}" + ("" if seconds is None else f"  ({seconds:.1f} s)"), flush=True)

    t = time.perf_counter()
    if not (args.reuse and (data / "test.jsonl").exists()):
        toy.build_toy_data(str(data), world["data"], args.seed)
    if not (args.reuse and tok_dir.exists()):
        toy.train_tokenizer(str(tok_dir), str(data), world, args.seed)
    sizes = "/".join(str(world["data"][s]) for s in toy.SPLITS)
    vocab = world["tokenizer"]["vocab_size"]
    row("data + tokenizer", f"{sizes} rows, vocab {vocab}", time.perf_counter() - t)
    train_1, train_2, test = (read_jsonl(data / f"{s}.jsonl") for s in toy.SPLITS)
    gold = {r["id"]: toy.final_answer(r["answer"]) for r in train_1 + train_2 + test}

    def dump(name, rows, responses):  # for a look at the errors
        write_jsonl(work / f"{name}.jsonl", ({"id": r["id"], "gold": gold[r["id"]], "response": t,
                                              "question": r["question"]} for r, t in zip(rows, responses)))

    def sft_rows(rows):
        return [(zero_shot_prompt(r["question"]), completion(toy.strip_notes(r["answer"]))) for r in rows]

    def load(path):
        m = AutoModelForCausalLM.from_pretrained(str(path))
        return m, toy.load_tokenizer(path)

    def built(name: str):
        path = work / name
        if not (args.reuse and (path / "config.json").exists()):
            m = toy.build_model(str(path), str(tok_dir), str(data), cfg[name], args.seed,
                                threads=args.threads)
            row(f"{name} base model", f"{m['parameters']:,} params, {m['steps']} steps, loss "
                f"{m['loss'] if m['loss'] is None else round(m['loss'], 3)}, CPU {m['cpu_seconds']:.1f} s", m["seconds"])
        return load(path)

    # Weak: SFT on train_1 gold, then greedy on test and train_2.
    s = cfg["sft"]["weak"]
    if args.reuse and (work / "weak_sft" / "config.json").exists():
        weak, tok = load(work / "weak_sft")
        row("weak SFT on train_1 gold", "reused from an earlier run")
    else:
        weak, tok = built("weak")
        m = sft(weak, tok, sft_rows(train_1), s["steps"], s["batch_size"], s["lr"], args.seed)
        row("weak SFT on train_1 gold", f"{s['steps']} steps x {s['batch_size']}, loss {m['loss']:.3f}, "
            f"CPU {m['cpu_seconds']:.1f} s", m["seconds"])
        weak.save_pretrained(work / "weak_sft")
        tok.save_pretrained(work / "weak_sft")
    resp, sec = generate(weak, tok, [zero_shot_prompt(r["question"]) for r in test], args.max_new_tokens)
    sc = score(resp, [gold[r["id"]] for r in test])
    row("weak floor, test", f"acc {sc['acc']:.1%}, #### {sc['has_####']:.1%}", sec)
    weak_resp, sec = generate(weak, tok, [zero_shot_prompt(r["question"]) for r in train_2], args.max_new_tokens)
    sc = score(weak_resp, [gold[r["id"]] for r in train_2])
    weak_acc2 = sc["acc"]
    row("weak answers, train_2 (D_weak)", f"acc {sc['acc']:.1%}, #### {sc['has_####']:.1%}", sec)
    dump("weak_train_2", train_2, weak_resp)
    print("  e.g.", repr(weak_resp[0]))
    del weak
    if args.stop_after_weak:
        return 0

    # Strong base: zero-shot, and 4-shot with weak demonstrations.
    strong, tok = built("strong")
    resp, sec = generate(strong, tok, [zero_shot_prompt(r["question"]) for r in test], args.max_new_tokens)
    sc = score(resp, [gold[r["id"]] for r in test])
    row("strong base zero-shot, test", f"acc {sc['acc']:.1%} (last number {sc['acc_last_number']:.1%}), "
        f"#### {sc['has_####']:.1%}", sec)
    rng = random.Random(args.seed)
    demo_idx = rng.sample(range(len(train_2)), 4)
    demos = [(train_2[i]["question"], weak_resp[i]) for i in demo_idx]
    n_right = sum(strict_answer(weak_resp[i]) == gold[train_2[i]["id"]] for i in demo_idx)
    icl_resp, sec = generate(strong, tok, [few_shot_prompt(demos, r["question"]) for r in train_2],
                             args.max_new_tokens)
    sc = score(icl_resp, [gold[r["id"]] for r in train_2])
    row("strong 4-shot (weak demos), train_2 (D_icl)",
        f"acc {sc['acc']:.1%} (last number {sc['acc_last_number']:.1%}), #### {sc['has_####']:.1%}, "
        f"{n_right}/4 demos right", sec)
    print("  e.g.", repr(icl_resp[0]))
    dump("icl_train_2", train_2, icl_resp)
    resp, sec = generate(strong, tok, [few_shot_prompt(demos, r["question"]) for r in test], args.max_new_tokens)
    sc = score(resp, [gold[r["id"]] for r in test])
    row("strong 4-shot (weak demos), test (weak-ICL)", f"acc {sc['acc']:.1%}, #### {sc['has_####']:.1%}", sec)

    # Consistency filter.
    kept = [i for i, r in enumerate(train_2)
            if strict_answer(weak_resp[i]) and strict_answer(weak_resp[i]) == strict_answer(icl_resp[i])]
    kept_acc = sum(strict_answer(weak_resp[i]) == gold[train_2[i]["id"]] for i in kept) / max(1, len(kept))
    row("consistency filter, train_2", f"kept {len(kept)}/{len(train_2)}, {kept_acc:.1%} correct "
        f"(raw weak labels {weak_acc2:.1%})")
    del strong

    skip = set(filter(None, args.skip.split(",")))
    s = cfg["sft"]["strong"]
    if "weakft" not in skip and kept:
        model, tok = load(work / "strong")
        rows = [(zero_shot_prompt(train_2[i]["question"]), completion(weak_resp[i])) for i in kept]
        m = sft(model, tok, rows, s["steps"], s["batch_size"], s["lr"], args.seed)
        resp, sec = generate(model, tok, [zero_shot_prompt(r["question"]) for r in test], args.max_new_tokens)
        sc = score(resp, [gold[r["id"]] for r in test])
        row("strong weak-ft (kept weak answers), test",
            f"acc {sc['acc']:.1%}, #### {sc['has_####']:.1%} ({s['steps']} steps, SFT CPU {m['cpu_seconds']:.1f} s)", sec)
        model, tok = load(work / "strong")
        rows = [(zero_shot_prompt(r["question"]), completion(weak_resp[i])) for i, r in enumerate(train_2)]
        m = sft(model, tok, rows, s["steps"], s["batch_size"], s["lr"], args.seed)
        resp, sec = generate(model, tok, [zero_shot_prompt(r["question"]) for r in test], args.max_new_tokens)
        sc = score(resp, [gold[r["id"]] for r in test])
        row("strong full weak FT (all D_weak), test",
            f"acc {sc['acc']:.1%}, #### {sc['has_####']:.1%} ({s['steps']} steps, SFT CPU {m['cpu_seconds']:.1f} s)", sec)
    if "ceiling" not in skip:
        model, tok = load(work / "strong")
        m = sft(model, tok, sft_rows(train_2), s["steps"], s["batch_size"], s["lr"], args.seed)
        resp, sec = generate(model, tok, [zero_shot_prompt(r["question"]) for r in test], args.max_new_tokens)
        sc = score(resp, [gold[r["id"]] for r in test])
        row("strong ceiling (train_2 gold), test",
            f"acc {sc['acc']:.1%}, #### {sc['has_####']:.1%} ({s['steps']} steps, SFT CPU {m['cpu_seconds']:.1f} s)", sec)

    print("\n| step | result | seconds |\n|---|---|---|")
    for what, value, sec in rows_out:
        print(f"| {what} | {value} | {sec} |")
    print(f"\nconfig overrides: {args.set or 'none'}; seed {args.seed}; torch threads {args.threads}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
