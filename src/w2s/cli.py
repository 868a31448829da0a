"""The ``w2s`` command: the steps a user may want to run by hand, outside the workflow.

    w2s grade --task gsm8k answers.jsonl graded.jsonl      # rows with response + gold -> pred + correct
    w2s check-config config/config.yaml [overlay.yaml ...]  # schema + cross-reference check, no jobs
    w2s filter --task gsm8k train_2.jsonl weak.jsonl icl.jsonl OUTDIR
    w2s mine-pairs --task gsm8k train_2.jsonl weak.jsonl samples.jsonl OUTDIR [--tau T ...]

Every option's default and allowed range are config/schema.yaml's (the same key the workflow reads),
so a run by hand and a workflow run of the same step use the same values.
"""

from __future__ import annotations

import argparse
import sys

from . import registry
from .io import InputError
from .schema import SCHEMA_PATH, ConfigError, check_value, schema_default, schema_node

SCHEMA = SCHEMA_PATH
_PARSERS = {"number": float, "integer": int}


def _schema_type(path: str, as_list: bool = False):
    """An argparse ``type`` that parses a value and checks it against the schema's key ``path``."""
    node = schema_node(path)
    parse = _PARSERS[(node["items"] if as_list else node)["type"]]

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        try:
            check_value(path, [value] if as_list else value)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return value

    return convert


def _schema_option(parser, option: str, path: str, help: str | None = None, **kw) -> None:
    """An option whose default and range are config/schema.yaml's key ``path``."""
    if "default" in kw:
        default, shown = kw.pop("default"), ""
    else:
        default = schema_default(path)
        shown = f"default {default} "
    parser.add_argument(option, type=_schema_type(path), default=default,
                        help=f"{help + '; ' if help else ''}{shown}(config key {path})", **kw)


def cmd_grade(args) -> int:
    from . import grading

    grading.grade_file(args.task, args.input, args.output, workers=args.workers, mode=args.mode)
    return 0


def cmd_check_config(args) -> int:
    from .config import merge_overlays, read_config_file, validate_config

    # Later files override earlier ones, like Snakemake's --configfile.
    config = merge_overlays(*(read_config_file(path) for path in args.configs))
    validate_config(config, args.schema, check_paths=not args.no_path_check)
    print(f"config OK: {len(config['experiments'])} experiment(s), {len(config['models'])} model(s)")
    return 0


def cmd_filter(args) -> int:
    from .consistency import VARIANTS, consistency_filter
    from .io import make_dir, read_jsonl, write_json, write_jsonl

    out = make_dir(args.outdir)
    sets, summary = consistency_filter(
        read_jsonl(args.questions, {"id": str, "question": str}), read_jsonl(args.weak, {"id": str, "response": str}),
        read_jsonl(args.icl, {"id": str, "response": str}), args.task, mode=args.mode,
        sources={"questions": args.questions, "weak": args.weak, "icl": args.icl})
    for variant in VARIANTS:
        write_jsonl(out / f"{variant}.jsonl", sets[variant])
    write_json(out / "filter.json", summary)
    print(summary)
    return 0


def cmd_mine_pairs(args) -> int:
    from .io import make_dir, read_jsonl, write_json, write_jsonl
    from .pairs import mine_pairs

    out = make_dir(args.outdir)
    pairs, votes, summary = mine_pairs(
        read_jsonl(args.questions, {"id": str, "question": str}), read_jsonl(args.weak, {"id": str, "response": str}),
        read_jsonl(args.samples, {"id": str, "responses": list[str]}), args.task, tau=args.tau,
        flip_threshold=args.flip_threshold, max_pairs=args.max_pairs, mode=args.mode, seed=args.seed,
        sources={"questions": args.questions, "weak": args.weak, "samples": args.samples})
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
    _schema_option(p, "--workers", "grading.workers", help="grading processes")
    p.add_argument("--mode", choices=modes, default=schema_default("grading.accuracy")[0],
                   help="equivalence (our grader) or paper (the paper code's decisions); exact grades like equivalence")
    p.add_argument("input")
    p.add_argument("output")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("check-config", help="validate config files (later ones override earlier ones)")
    p.add_argument("configs", nargs="+")
    p.add_argument("--schema", default=str(SCHEMA))
    p.add_argument("--no-path-check", action="store_true", help="do not look at local files (model folders, dataset files, train_2 ids)")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("filter", help="stage I consistency filter -> weak/icl/hybrid SFT sets")
    p.add_argument("--task", choices=tasks, required=True)
    p.add_argument("--mode", choices=modes, default=schema_default("grading.mode"))
    p.add_argument("questions")
    p.add_argument("weak")
    p.add_argument("icl")
    p.add_argument("outdir")
    p.set_defaults(func=cmd_filter)

    p = sub.add_parser("mine-pairs", help="stage II confidence vote and preference pairs")
    p.add_argument("--task", choices=tasks, required=True)
    p.add_argument("--mode", choices=modes, default=schema_default("grading.mode"))
    _schema_option(p, "--tau", "experiments.*.stage2.tau")
    _schema_option(p, "--flip-threshold", "experiments.*.stage2.flip_threshold")
    _schema_option(p, "--max-pairs", "experiments.*.stage2.max_pairs", default=None,
                   help="pairs per question; default: the task's (w2s.registry.TASKS)")
    seed = schema_default("seeds")[0]
    p.add_argument("--seed", type=_schema_type("seeds", as_list=True), default=seed,
                   help=f"the run's seed; default {seed} (the first of seeds)")
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
    except (InputError, ValueError, OSError) as e:  # a user's input: one message, no traceback
        print(f"w2s {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
