"""The ``w2s`` command: the steps a user may want to run by hand, outside the workflow.

    w2s grade --task gsm8k answers.jsonl graded.jsonl      # rows with response + gold -> pred + correct
    w2s check-config config/config.yaml [overlay.yaml ...]  # schema + cross-reference check, no jobs
    w2s filter --task gsm8k train_2.jsonl weak.jsonl icl.jsonl OUTDIR
    w2s mine-pairs --task gsm8k train_2.jsonl weak.jsonl samples.jsonl OUTDIR [--tau 0.6 ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import registry
from .io import InputError

SCHEMA = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"


def _deep_merge(base: dict, overlay: dict) -> dict:
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def cmd_grade(args) -> int:
    from . import grading

    grading.grade_file(args.task, args.input, args.output, workers=args.workers)
    return 0


def cmd_check_config(args) -> int:
    import yaml

    from .config import validate_config

    config: dict = {}
    for path in args.configs:  # later files override earlier ones, like Snakemake's --configfile
        _deep_merge(config, yaml.safe_load(Path(path).read_text()) or {})
    validate_config(config, args.schema, check_paths=not args.no_path_check)
    print(f"config OK: {len(config['experiments'])} experiment(s), {len(config['models'])} model(s)")
    return 0


def cmd_filter(args) -> int:
    from .consistency import VARIANTS, consistency_filter
    from .io import read_jsonl, write_json, write_jsonl

    sets, summary = consistency_filter(
        read_jsonl(args.questions, {"id": str, "question": str}), read_jsonl(args.weak, {"id": str, "response": str}),
        read_jsonl(args.icl, {"id": str, "response": str}), args.task, mode=args.mode)
    out = Path(args.outdir)
    for variant in VARIANTS:
        write_jsonl(out / f"{variant}.jsonl", sets[variant])
    write_json(out / "filter.json", summary)
    print(summary)
    return 0


def cmd_mine_pairs(args) -> int:
    from .io import read_jsonl, write_json, write_jsonl
    from .pairs import mine_pairs

    pairs, votes, summary = mine_pairs(
        read_jsonl(args.questions, {"id": str, "question": str}), read_jsonl(args.weak, {"id": str, "response": str}),
        read_jsonl(args.samples, {"id": str, "responses": list}), args.task, tau=args.tau,
        flip_threshold=args.flip_threshold, max_pairs=args.max_pairs, mode=args.mode, seed=args.seed)
    out = Path(args.outdir)
    write_jsonl(out / "pairs.jsonl", pairs)
    write_jsonl(out / "votes.jsonl", votes)
    write_json(out / "pairs.json", summary)
    print(summary)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="w2s", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    tasks = list(registry.TASKS)
    modes = list(registry.GRADING_MODES)

    p = sub.add_parser("grade", help="extract and grade final answers (rows with response and gold)")
    p.add_argument("--task", choices=tasks, required=True)
    p.add_argument("--workers", type=int, default=1, help="grading processes")
    p.add_argument("input")
    p.add_argument("output")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("check-config", help="validate config files (later ones override earlier ones)")
    p.add_argument("configs", nargs="+")
    p.add_argument("--schema", default=str(SCHEMA))
    p.add_argument("--no-path-check", action="store_true", help="do not check that local model folders exist")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("filter", help="stage I consistency filter -> weak/icl/hybrid SFT sets")
    p.add_argument("--task", choices=tasks, required=True)
    p.add_argument("--mode", choices=modes, default="equivalence")
    p.add_argument("questions")
    p.add_argument("weak")
    p.add_argument("icl")
    p.add_argument("outdir")
    p.set_defaults(func=cmd_filter)

    p = sub.add_parser("mine-pairs", help="stage II confidence vote and preference pairs")
    p.add_argument("--task", choices=tasks, required=True)
    p.add_argument("--mode", choices=modes, default="equivalence")
    p.add_argument("--tau", type=float, default=0.6)
    p.add_argument("--flip-threshold", type=float, default=0.8)
    p.add_argument("--max-pairs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("questions")
    p.add_argument("weak")
    p.add_argument("samples")
    p.add_argument("outdir")
    p.set_defaults(func=cmd_mine_pairs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (InputError, ValueError, FileNotFoundError) as e:
        print(f"w2s {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
