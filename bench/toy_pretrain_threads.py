"""The strong toy model's pretraining on 1 and 2 torch threads and with torch's AVX2 or native CPU
kernels: speed, CPU cost, and whether the weights come out bit-identical. Prints one table.

    python bench/toy_pretrain_threads.py                 # 150 steps, config/config.yaml's toy-strong, seed 0
    python bench/toy_pretrain_threads.py --steps 400 --threads 1 2
    python bench/toy_pretrain_threads.py --steps 60 --threads 1 --kernels avx2 native avx2

Why: the pretraining is the critical path of a one-seed run (``make run``), while the weak side
keeps the second core busy for only about 90 s of it; ``models.toy-strong.resources.pretrain.threads``
decides. Two threads are worth it only if they finish sooner and leave the model unchanged (same
weights, so the README's measured tables stand); with several seeds the cores are full anyway and
what counts is the CPU seconds per step. Kernels (schema: cpu_kernels): the workflow pins torch's
AVX2 kernels on x86, because AVX-512 ones round differently and the weights then differ; the
table shows what that costs in speed on this CPU.

Each row pretrains a fresh model from the same seed on the same rows (w2s.toy.pretrain: the
workflow's own loop), one after the other; the rows of one kernel setting in one process
(ATEN_CPU_CAPABILITY and MKL_CBWR take effect before torch loads, so each setting is a
subprocess). The toy data and tokenizer are built first into --work (w2s.toy, as the workflow's rules build them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from w2s.registry import CPU_KERNELS, cpu_kernel_env  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=str(ROOT / "results/bench/toy_pretrain_threads"))
    ap.add_argument("--config", default=str(ROOT / "config/config.yaml"))
    ap.add_argument("--model", default="toy-strong", help="the toy model of --config to pretrain")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--kernels", nargs="+", choices=sorted(CPU_KERNELS), default=["avx2"],
                    help="torch CPU kernel settings, each run in a subprocess (repeat one to see the noise)")
    ap.add_argument("--rows-json", action="store_true", help=argparse.SUPPRESS)  # one setting's rows, as JSON
    return ap.parse_args(argv)


def weights_hash(model) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def main(argv=None) -> None:
    args = parse_args(argv)
    if not args.rows_json:
        return print_table(args, argv if argv is not None else sys.argv[1:])
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
        rows.append({"threads": threads, "kernels": torch.backends.cpu.get_cpu_capability(),
                     "seconds": metrics["seconds"], "cpu_seconds": metrics["cpu_seconds"],
                     "loss": metrics["loss"], "sha": weights_hash(model)})
    print(json.dumps({"rows": rows, "layers": cfg["layers"], "hidden": cfg["hidden"]}))


def print_table(args, argv) -> None:
    rows = []
    rest = [a for a in argv if a != "--kernels" and a not in CPU_KERNELS]  # the child runs one setting
    for kernels in args.kernels:
        # What rules/common.smk gives a job with cpu_kernels set to this setting.
        pinned = {k for setting in CPU_KERNELS.values() for k in setting}
        env = {k: v for k, v in os.environ.items() if k not in pinned}
        env.update(cpu_kernel_env(kernels, platform.machine()))
        out = subprocess.run([sys.executable, __file__, *rest, "--rows-json"], env=env, check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        run = json.loads(out.strip().splitlines()[-1])
        rows += [dict(r, setting=kernels) for r in run["rows"]]
    base = rows[0]
    print(f"{args.model}, {args.steps} steps, seed {args.seed} ({run['layers']} layers, hidden {run['hidden']}):\n")
    print("| kernels (torch says) | threads | s/step | CPU s/step | speed vs first row | CPU cost vs first row "
          "| final loss | weights sha256 | same weights as first row |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        print(f"| {r['setting']} ({r['kernels']}) | {r['threads']} | {r['seconds'] / args.steps:.3f} | "
              f"{r['cpu_seconds'] / args.steps:.3f} | {base['seconds'] / r['seconds']:.2f}x | "
              f"{r['cpu_seconds'] / base['cpu_seconds']:.2f}x | {r['loss']:.4f} | {r['sha']} | "
              f"{'yes' if r['sha'] == base['sha'] else 'NO'} |")


if __name__ == "__main__":
    main()
