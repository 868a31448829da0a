"""Generation cost on a tiny model on this CPU (issue 7): prints four tables.

    python bench/generation.py                   # model trained once into results/bench/generation
    python bench/generation.py --model PATH      # any causal LM folder instead (e.g. the toy world's weak model)
    python bench/generation.py --skip-vllm       # transformers only

(a) Prompt tokens computed for stage II sampling (N questions, n = 10, temperature 1) and for stage I
    in-context answers (4 fixed demonstrations, greedy): ours vs the paper's per-seed loop, which
    restarts the engine once per seed and so prefills every prompt n times. Counted by the backends,
    so exact; the per-seed loop is counted as n x the prompt tokens (no padding: its lower bound).
(b) Generated tokens/s of the transformers backend, greedy, one run: our loop (length-grouped
    batches, finished rows dropped, shared prefix) vs naive fixed batches (``model.generate`` on
    batches in request order, stop strings via ``stop_strings``) vs batch size 1 (``model.generate``
    per prompt). The three must produce identical texts: the table says whether they did. The same
    token count is divided by each wall time.
(c) vLLM (CPU build, in a subprocess) vs the transformers backend on the same model and prompts.
(d) Snakemake DAG build time (``snakemake -n``) for config/paper/gsm8k.yaml, or n/a.

The model: a tiny Llama (hidden 64, 2 layers, head size 32) trained for a few hundred steps on
1-4 step word problems, so that its answers end (end-of-sequence) after 9-40 tokens: rows of a
batch finish at different times, as with real models. One torch thread unless --threads.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=str(ROOT / "results/bench/generation"))
    ap.add_argument("--model", default=None, help="model folder (default: train the tiny one into --work)")
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--questions", type=int, default=128, help="prompts for (b) and (c)")
    ap.add_argument("--stage2-questions", type=int, default=64, help="questions for (a)")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-vllm", action="store_true")
    ap.add_argument("--vllm-worker", default=None, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def prompts_for(n: int, seed: int, shots: int = 0) -> list[str]:
    from w2s.generation.testing import word_problem
    from w2s.prompts import few_shot_prompt, zero_shot_prompt

    rng = random.Random(seed)
    demos = [word_problem(random.Random(10_000 + k)) for k in range(shots)]
    out = []
    for _ in range(n):
        q, _ = word_problem(rng)
        out.append(few_shot_prompt(demos, q) if shots else zero_shot_prompt(q))
    return out


def table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n{title}")
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells[1:]:
        print(line(r))
    sys.stdout.flush()


# ------------------------------------------------------------------------------------------------
def naive_generate(model, tok, prompts, batch_size, max_new, stops):
    """The unoptimised path: ``model.generate`` on fixed batches in request order."""
    import torch

    from w2s.generation import cut_at_stop

    texts = []
    tok.padding_side = "left"
    for k in range(0, len(prompts), batch_size):
        chunk = prompts[k : k + batch_size]
        enc = tok(chunk, return_tensors="pt", padding=True)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, stop_strings=list(stops),
                                 tokenizer=tok, pad_token_id=tok.pad_token_id)
        eos = model.generation_config.eos_token_id
        for row in out[:, enc["input_ids"].shape[1] :].tolist():
            if eos in row:
                row = row[: row.index(eos)]
            texts.append(cut_at_stop(tok.decode(row, skip_special_tokens=True, clean_up_tokenization_spaces=False),
                                     stops)[0])
    return texts


def bench_transformers(args, model_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from w2s.generation import SamplingConfig, make_backend
    from w2s.prompts import STOP_STRINGS

    engine = {"backend": "transformers", "batch_size": args.batch_size, "dtype": "float32", "progress": False}
    results = {}

    # (a) prompt tokens computed.
    rows_a = []
    for label, prompts, sampling in [
        (f"stage II sampling, zero-shot, n={args.n}",
         prompts_for(args.stage2_questions, 1),
         SamplingConfig(max_new_tokens=48, temperature=1.0, n=args.n, seed=0)),
        ("stage I ICL answers, 4-shot, n=1",
         prompts_for(args.stage2_questions, 2, shots=4),
         SamplingConfig(max_new_tokens=48)),
    ]:
        be = make_backend(model_path, engine, args.threads)
        t0 = time.perf_counter()
        be.generate(prompts, sampling)
        secs = time.perf_counter() - t0
        c = be.counters
        plain = sum(len(t) for t in be.tokenizer(prompts)["input_ids"])
        per_seed = sampling.n * plain
        rows_a.append({"label": label, "prompts": prompts, "sampling": sampling, "per_seed": per_seed,
                       "ours": c.prompt_tokens_computed, "submitted": c.prompt_tokens_submitted, "secs": secs})
    results["a"] = rows_a

    # (b) tokens/s: ours vs naive fixed batches vs batch size 1; identical greedy texts expected.
    prompts = prompts_for(args.questions, 3)
    sampling = SamplingConfig(max_new_tokens=args.max_new_tokens, stop=STOP_STRINGS)
    be = make_backend(model_path, engine, args.threads)
    be.generate(prompts[:4], sampling)  # warm-up (allocator, kernels)
    be.counters.generated_tokens = 0
    t0 = time.perf_counter()
    ours = be.generate_completions(prompts, sampling)
    t_ours = time.perf_counter() - t0
    tokens = sum(c[0].num_tokens for c in ours)
    ours_texts = [c[0].text for c in ours]

    variants = {}
    for key, extra in [("ours_order", {"group_by_length": False}), ("ours_single", {"batch_size": 1})]:
        v = make_backend(model_path, {**engine, **extra}, args.threads)
        t0 = time.perf_counter()
        texts = v.generate(prompts, sampling)
        variants[key] = (time.perf_counter() - t0, sum(a[0] == b for a, b in zip(texts, ours_texts)))

    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(model_path)
    t0 = time.perf_counter()
    naive = naive_generate(model, tok, prompts, args.batch_size, args.max_new_tokens, STOP_STRINGS)
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = naive_generate(model, tok, prompts, 1, args.max_new_tokens, STOP_STRINGS)
    t_single = time.perf_counter() - t0
    results["b"] = {
        "tokens": tokens,
        "ours": t_ours,
        "naive": t_naive,
        "single": t_single,
        "same_naive": sum(a == b for a, b in zip(ours_texts, naive)),
        "same_single": sum(a == b for a, b in zip(ours_texts, single)),
        "n": len(prompts),
        "variants": variants,
        "lengths": sorted(c[0].num_tokens for c in ours),
        "texts": ours_texts,
    }
    return results


def vllm_worker(spec: str) -> None:
    """Runs in a subprocess: one vLLM engine, the (a) and (c) workloads, JSON on the last line."""
    args = json.loads(spec)
    from w2s.generation import SamplingConfig, make_backend
    from w2s.prompts import STOP_STRINGS

    engine = {"backend": "vllm", "dtype": "float32", "max_model_len": 1024, "progress": False,
              "work_dir": args["work"], "vllm_kwargs": args.get("vllm_kwargs") or {}}
    t0 = time.perf_counter()
    be = make_backend(args["model"], engine, args["threads"])
    start = time.perf_counter() - t0
    out = {"start": start, "a": []}
    for label, prompts, sampling in [
        ("stage2", prompts_for(args["stage2_questions"], 1),
         SamplingConfig(max_new_tokens=48, temperature=1.0, n=args["n"], seed=0)),
        ("icl", prompts_for(args["stage2_questions"], 2, shots=4), SamplingConfig(max_new_tokens=48)),
    ]:
        before = be.counters.as_dict()
        be.generate(prompts, sampling)
        after = be.counters.as_dict()
        out["a"].append({k: after[k] - before[k] for k in after})
    prompts = prompts_for(args["questions"], 3)
    sampling = SamplingConfig(max_new_tokens=args["max_new_tokens"], stop=STOP_STRINGS)
    be.generate(prompts[:4], sampling)  # warm-up
    g0 = be.counters.generated_tokens
    t0 = time.perf_counter()
    comps = be.generate_completions(prompts, sampling)
    out["c"] = {"secs": time.perf_counter() - t0, "tokens": be.counters.generated_tokens - g0,
                "texts": [c[0].text for c in comps]}
    print("RESULT " + json.dumps(out))


def run_vllm(args, model_path, vllm_kwargs=None):
    spec = {"model": model_path, "threads": args.threads, "work": str(Path(args.work) / "vllm"), "n": args.n,
            "stage2_questions": args.stage2_questions, "questions": args.questions,
            "max_new_tokens": args.max_new_tokens, "vllm_kwargs": vllm_kwargs}
    proc = subprocess.run([sys.executable, __file__, "--vllm-worker", json.dumps(spec)], capture_output=True,
                          text=True, timeout=900)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    print(f"vLLM worker failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}", file=sys.stderr)
    return None


def dag_build_time() -> str:
    cfg = ROOT / "config/paper/gsm8k.yaml"
    if not cfg.is_file():
        return "n/a (config/paper/gsm8k.yaml does not exist)"
    cmd = [sys.executable, "-m", "snakemake", "-n", "--quiet", "all", "--configfile", str(cfg), "--cores", "1"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    secs = time.perf_counter() - t0
    if proc.returncode:
        return f"failed after {secs:.1f} s (rc {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}"
    return f"{secs:.1f} s"


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.vllm_worker:
        vllm_worker(args.vllm_worker)
        return
    import torch

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    model_path = args.model
    if model_path is None:
        model_path = str(work / f"tiny-{args.train_steps}")
        if not (Path(model_path) / "model.safetensors").is_file():
            from w2s.generation.testing import train_tiny_lm

            info = train_tiny_lm(model_path, steps=args.train_steps, threads=args.threads)
            print(f"trained the tiny model: {info['steps']} steps in {info['seconds']:.1f} s, loss {info['loss']:.3f}")
    print(f"model: {model_path}; torch threads: {args.threads}; batch size: {args.batch_size}")

    res = bench_transformers(args, model_path)
    vl = None if args.skip_vllm else run_vllm(args, model_path)

    rows = []
    for k, r in enumerate(res["a"]):
        v = vl["a"][k]["prompt_tokens_computed"] if vl else None
        rows.append([r["label"], len(r["prompts"]), r["per_seed"], r["ours"], f"{r['ours'] / r['per_seed']:.3f}",
                     "-" if v is None else v, "-" if v is None else f"{v / r['per_seed']:.3f}"])
    table("(a) prompt tokens computed (counted): per-seed loop vs ours",
          ["workload", "prompts", "per-seed loop", "ours (transformers)", "ratio", "ours (vLLM CPU)", "ratio"], rows)

    b = res["b"]
    tok = b["tokens"]
    table(f"(b) transformers backend, greedy, {b['n']} prompts, {tok} generated tokens "
          f"(per sequence {b['lengths'][0]}-{b['lengths'][-1]}), batch size {args.batch_size}",
          ["path", "seconds", "tokens/s", "speed-up of ours", "texts identical to ours"],
          [["ours: length-grouped, rows dropped", f"{b['ours']:.2f}", f"{tok / b['ours']:.0f}", "1.00", f"{b['n']}/{b['n']}"],
           *[[label, f"{b['variants'][key][0]:.2f}", f"{tok / b['variants'][key][0]:.0f}",
              f"{b['variants'][key][0] / b['ours']:.2f}", f"{b['variants'][key][1]}/{b['n']}"]
             for key, label in [("ours_order", "ours, request-order batches (no grouping)"),
                                ("ours_single", "ours, batch size 1")]],
           ["naive fixed batches (generate)", f"{b['naive']:.2f}", f"{tok / b['naive']:.0f}",
            f"{b['naive'] / b['ours']:.2f}", f"{b['same_naive']}/{b['n']}"],
           ["batch size 1 (generate)", f"{b['single']:.2f}", f"{tok / b['single']:.0f}",
            f"{b['single'] / b['ours']:.2f}", f"{b['same_single']}/{b['n']}"]])

    if vl:
        c = vl["c"]
        same = sum(x == y for x, y in zip(c["texts"], b["texts"]))
        table(f"(c) vLLM (CPU, in-process, engine start {vl['start']:.1f} s) vs transformers, same model and prompts",
              ["backend", "seconds", "generated tokens", "tokens/s", "texts identical to transformers"],
              [["transformers (ours)", f"{b['ours']:.2f}", tok, f"{tok / b['ours']:.0f}", "-"],
               ["vLLM", f"{c['secs']:.2f}", c["tokens"], f"{c['tokens'] / c['secs']:.0f}", f"{same}/{b['n']}"]])
    else:
        print("\n(c) vLLM: skipped" + ("" if args.skip_vllm else " (the worker failed, see stderr)"))

    table("(d) DAG build", ["config", "snakemake -n"], [["config/paper/gsm8k.yaml", dag_build_time()]])


if __name__ == "__main__":
    main()
