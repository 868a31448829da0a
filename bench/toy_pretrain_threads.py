"""The strong toy model's pretraining on 1 and 2 torch threads: speed, CPU cost, and whether the
weights come out bit-identical. Prints one table.

    python bench/toy_pretrain_threads.py                 # 150 steps, config/config.yaml's toy-strong, seed 0
    python bench/toy_pretrain_threads.py --steps 400 --threads 1 2

Why: the pretraining is the critical path of a one-seed run (``make run``), while the weak side
keeps the second core busy for only about 90 s of it; ``models.toy-strong.resources.pretrain.threads``
decides. Two threads are worth it only if they finish sooner and leave the model unchanged (same
weights, so the README's measured tables stand); with several seeds the cores are full anyway and
what counts is the CPU seconds per step.

Each row pretrains a fresh model from the same seed on the same rows (w2s.toy.pretrain: the
workflow's own loop), in this process, one after the other. The toy data and tokenizer are built
first into --work (w2s.toy, as the workflow's rules build them).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=str(ROOT / "results/bench/toy_pretrain_threads"))
    ap.add_argument("--config", default=str(ROOT / "config/config.yaml"))
    ap.add_argument("--model", default="toy-strong", help="the toy model of --config to pretrain")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    return ap.parse_args(argv)


def weights_hash(model) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def main(argv=None) -> None:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    import torch
    from transformers import LlamaForCausalLM

    from w2s import toy
    from w2s.config import read_config_file, validate_config
    from w2s.toy.model import model_config, pretrain
    from w2s.toy.problems import SPLITS, read_split

    config = validate_config(read_config_file(args.config), check_paths=False)
    cfg = dict(config["models"][args.model]["toy"], pretrain_steps=args.steps)
    work = Path(args.work)
    data_dir, tok_dir = work / f"seed{args.seed}" / "data", work / f"seed{args.seed}" / "tokenizer"
    if not (data_dir / "test.jsonl").is_file():
        toy.build_toy_data(str(data_dir), config["toy"]["data"], args.seed)
    if not tok_dir.is_dir():
        toy.train_tokenizer(str(tok_dir), str(data_dir), config["toy"], args.seed)
    tokenizer = toy.load_tokenizer(tok_dir)
    exclude = {r["question"] for s in SPLITS for r in read_split(str(data_dir), s)}

    rows = []
    for threads in args.threads:
        torch.manual_seed(args.seed)
        model = LlamaForCausalLM(model_config(cfg, tokenizer))
        metrics = pretrain(model, tokenizer, cfg, args.seed, exclude, threads=threads)
        rows.append((threads, metrics, weights_hash(model)))

    base = rows[0]
    print(f"{args.model}, {args.steps} steps, seed {args.seed} ({cfg['layers']} layers, hidden {cfg['hidden']}):\n")
    print("| threads | s/step | CPU s/step | speed-up | CPU cost vs first row | final loss | weights sha256 | same weights as first row |")
    print("|---:|---:|---:|---:|---:|---:|---|---|")
    for threads, m, digest in rows:
        print(f"| {threads} | {m['seconds'] / args.steps:.3f} | {m['cpu_seconds'] / args.steps:.3f} | "
              f"{base[1]['seconds'] / m['seconds']:.2f}x | {m['cpu_seconds'] / base[1]['cpu_seconds']:.2f}x | "
              f"{m['loss']:.4f} | {digest} | {'yes' if digest == base[2] else 'NO'} |")


if __name__ == "__main__":
    main()
