"""Config validation: JSON Schema (config/schema.yaml) with defaults, then cross-references.

Errors name the key path and what is allowed, e.g.::

    config error at experiments.toy.stage2.tau: 1.5 is greater than the maximum of 1

so a bad overlay fails before any job starts, not hours later inside a GPU job.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from . import registry
from .models import check_local_model, is_hub_model
from .sources import is_local_source
from .schema import (  # noqa: F401 - the config API: w2s.config.schema_default, validated, ...
    SCHEMA_PATH,
    ConfigError,
    check_value,
    keys_of,
    load_schema,
    problems_of,
    schema_default,
    validated,
    validator_with_defaults,
)

RESERVED_NAMES = {"ceiling", "data", "tables", "figures", "toy_world", "logs", "benchmarks"}


def read_config_file(path: str | Path) -> dict:
    """One YAML (or JSON) config file as a mapping; a syntax error is a ConfigError naming
    file:line:column and YAML's own description of the problem."""
    import yaml

    from .io import InputError, read_text

    path = Path(path)
    try:
        text = read_text(path)
    except InputError as e:
        raise ConfigError(f"config file {e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        context = f" ({e.context}, line {e.context_mark.line + 1})" if e.context and e.context_mark else ""
        raise ConfigError(f"{where}: YAML syntax error: {e.problem or e.context}{context}. Fix the file: indent with "
                          "spaces (no tabs), close every bracket and quote, put a space after each ':'.") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e}).") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file is a mapping of keys (datasets:, models:, ...), got a "
                          f"{type(data).__name__} at the top level.")
    return data


def merge_overlays(*configs: dict) -> dict:
    """Config files merged as Snakemake merges ``--configfile`` overlays: mappings key by key, any
    other value replaced (a list too). The inputs are left as they are."""

    def merge(base: dict, overlay: dict) -> dict:
        for key, value in overlay.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = copy.deepcopy(value)
        return base

    out: dict = {}
    for config in configs:
        merge(out, config)
    return out


def _drop_removed_methods(config: dict) -> None:
    """``methods: {orpo: null}`` in an overlay removes a stage II method (YAML overlays only merge)."""
    for exp in (config.get("experiments") or {}).values():
        methods = ((exp or {}).get("stage2") or {}).get("methods") if isinstance(exp, dict) else None
        if isinstance(methods, dict):
            for name in [k for k, v in methods.items() if v is None]:
                del methods[name]


def validate_config(config: dict, schema_path: str | Path = SCHEMA_PATH, check_paths: bool = True) -> dict:
    """Fill defaults into ``config`` in place, validate it, and check cross-references.

    Raises ConfigError with every problem found, one per line.
    """
    schema = load_schema(schema_path)
    _drop_removed_methods(config)
    problems = problems_of(schema, validator_with_defaults(schema), config)
    if not problems:
        problems = _cross_check(config, check_paths, keys_of(schema, schema["$defs"]["training_keys"]))
    if problems:
        raise ConfigError("\n".join(problems) + "\nFix the config (config/config.yaml or your --configfile overlay); "
                          "config/schema.yaml documents every key.")
    return config


def _cross_check(config: dict, check_paths: bool, training_keys: set[str]) -> list[str]:
    problems = []
    datasets, models = config["datasets"], config["models"]
    for name in [*datasets, *models, *config["experiments"]]:
        if name in RESERVED_NAMES:
            problems.append(f"config error at {name}: '{name}' is a reserved name (used for folders); rename it.")
    for name, dataset in datasets.items():
        problems += _check_dataset(dataset, f"datasets.{name}")
        if check_paths:
            problems += _check_local_sources(dataset, f"datasets.{name}")
    sample = config["toy"]["tokenizer"]["format_sample"]
    problems += text_share_problems(sample, "toy.tokenizer.format_sample")
    for name, model in models.items():
        if model["path"] == "toy" and "toy" not in model:
            problems.append(f"config error at models.{name}.toy: a model with path 'toy' needs its toy architecture.")
        elif model["path"] == "toy":
            fill_toy_text_problems(model["toy"], config["toy"]["data"])
            problems += toy_model_problems(model["toy"], f"models.{name}.toy")
        elif check_paths:
            try:
                check_local_model(model["path"])
            except FileNotFoundError as e:
                problems.append(f"config error at models.{name}.path: {e}")
        if model["revision"] is not None and not is_hub_model(model["path"]):
            problems.append(f"config error at models.{name}.revision: only a hub model has revisions; "
                            f"'{model['path']}' is {'built by the toy rules' if model['path'] == 'toy' else 'a folder'} "
                            "(remove revision).")
    for exp_name, exp in config["experiments"].items():
        where = f"experiments.{exp_name}"
        if exp["dataset"] not in datasets:
            problems.append(f"config error at {where}.dataset: unknown dataset '{exp['dataset']}' "
                            f"(defined: {', '.join(datasets)}).")
            continue
        exp.setdefault("test_sets", [exp["dataset"]])
        for t in exp["test_sets"]:
            if t not in datasets:
                problems.append(f"config error at {where}.test_sets: unknown dataset '{t}' (defined: {', '.join(datasets)}).")
        for role in ["strong", *[f"weak[{i}]" for i in range(len(exp["weak"]))]]:
            name = exp["strong"] if role == "strong" else exp["weak"][int(role[5:-1])]
            if name not in models:
                problems.append(f"config error at {where}.{role}: unknown model '{name}' (defined: {', '.join(models)}).")
        if exp["strong"] in exp["weak"]:
            problems.append(f"config error at {where}.weak: the strong model '{exp['strong']}' is also listed as weak.")
        dataset = datasets[exp["dataset"]]
        if dataset["source"] != "toy" and "train_1" not in dataset["source"]:
            needs = [w for w in exp["weak"] if w in models and models[w]["finetune"]]
            if needs:
                problems.append(f"config error at datasets.{exp['dataset']}.source.train_1: weak model(s) "
                                f"{', '.join(needs)} are fine-tuned on train_1, but the dataset has none "
                                "(set finetune: false to use them as is).")
        stage2 = exp["stage2"]
        # The one default that depends on another key: the paper's pairs per question of the task.
        stage2.setdefault("max_pairs", registry.TASKS[dataset["task"]].max_pairs)
        if stage2["flip_threshold"] < stage2["tau"]:
            problems.append(f"config error at {where}.stage2.flip_threshold: {stage2['flip_threshold']} is below "
                            f"tau ({stage2['tau']}); the flip rule only applies above tau.")
        problems += _check_stage2_methods(stage2["methods"], f"{where}.stage2.methods", training_keys)
        problems += demonstration_problems(config, exp, where, check_paths)
    return problems


# How w2s.toy.build_toy_data names its rows (the normalised id is the raw row's id).
TOY_ROW_ID = "toy-{split}-{index:05d}"


def known_train_2_ids(config: dict, dataset_name: str, read_files: bool = True) -> list[str] | None:
    """The ids of a dataset's normalised train_2 where they are known before any job runs: the toy
    world's (from its size) and a local file's (normalised here, a fraction of a second for 7,000
    rows). None for hub and URL sources, and for a local file with a problem (its job reports it)."""
    dataset = config["datasets"][dataset_name]
    if dataset["source"] == "toy":
        return [TOY_ROW_ID.format(split="train_2", index=i) for i in range(config["toy"]["data"]["train_2"])]
    spec = dataset["source"]["train_2"]
    if not read_files or not is_local_source(spec["path"]) or not Path(spec["path"]).is_file():
        return None
    from .data import normalise_split
    from .io import InputError

    try:
        return [row["id"] for row in normalise_split(dataset, spec, "train_2", dataset_name)]
    except InputError:
        return None


def demonstration_problems(config: dict, exp: dict, where: str, read_files: bool = True) -> list[str]:
    """Fixed demonstration ids must be train_2 rows and k at most train_2's size, where train_2 is
    known at config time (``known_train_2_ids``); ``ids_by_weak`` names weak models of the experiment."""
    demos, where = exp["demonstrations"], f"{where}.demonstrations"
    problems = [f"config error at {where}.ids_by_weak.{w}: '{w}' is not a weak model of this experiment "
                f"(weak: {', '.join(exp['weak'])})." for w in demos["ids_by_weak"] if w not in exp["weak"]]
    known = known_train_2_ids(config, exp["dataset"], read_files)
    if known is None:
        return problems
    source = config["datasets"][exp["dataset"]]["source"]
    origin = ("the toy world's, toy.data.train_2" if source == "toy"
              else f"datasets.{exp['dataset']}.source.train_2.path: {source['train_2']['path']}")
    if demos["k"] > len(known):
        problems.append(f"config error at {where}.k: {demos['k']} demonstrations asked for, but train_2 of dataset "
                        f"'{exp['dataset']}' has {len(known)} questions ({origin}); lower k.")
    listed = [("ids", demos["ids"] or [])] + [(f"ids_by_weak.{w}", ids) for w, ids in demos["ids_by_weak"].items()]
    known_set = set(known)
    for key, ids in listed:
        missing = [str(i) for i in ids if str(i) not in known_set]
        if missing:
            problems.append(f"config error at {where}.{key}: {len(missing)} id(s) not in train_2 of dataset "
                            f"'{exp['dataset']}' ({origin}): {', '.join(map(repr, missing[:5]))}; its ids look like "
                            f"{', '.join(map(repr, known[:3]))}.")
    return problems


def _check_local_sources(dataset: dict, where: str) -> list[str]:
    """A local source file must exist: it is an input of the data job (relative to the working directory)."""
    source = dataset["source"]
    return [f"config error at {where}.source.{split}.path: file not found: '{spec['path']}' (a local file; relative "
            f"paths start at the working directory, {Path.cwd()}). Fix the path, or give an https URL or hf://owner/name."
            for split, spec in (source.items() if isinstance(source, dict) else ())
            if is_local_source(spec["path"]) and not Path(spec["path"]).is_file()]


# The smallest attention head vLLM's CPU build runs (DESIGN.md: head size 16 dies on the first generate).
MIN_HEAD_SIZE = 32


# A toy model's keys whose default is toy.data's key of the same name: the pretraining text's
# problems have the toy world's shape unless the model says otherwise.
TOY_TEXT_PROBLEM_KEYS = ("max_steps", "max_operand", "max_value")


def fill_toy_text_problems(toy: dict, data: dict) -> dict:
    """Fill a toy model's pretraining-text problem settings left out from toy.data (in place)."""
    for key in TOY_TEXT_PROBLEM_KEYS:
        toy.setdefault(key, data[key])
    return toy


def toy_model_problems(toy: dict, where: str) -> list[str]:
    """Checks across the keys of a toy model (``$defs.toy_model`` checks each key alone)."""
    problems = []
    hidden, heads = toy["hidden"], toy["heads"]
    if hidden % heads:
        problems.append(f"config error at {where}.heads: {heads} heads do not divide hidden ({hidden}); "
                        f"choose heads so that hidden/heads is a whole number of at least {MIN_HEAD_SIZE}.")
    elif hidden // heads < MIN_HEAD_SIZE:
        problems.append(f"config error at {where}.heads: head size hidden/heads = {hidden}/{heads} = {hidden // heads}; "
                        f"vLLM's CPU build needs at least {MIN_HEAD_SIZE} (it dies on the first generate with 16). "
                        f"Use at most {max(1, hidden // MIN_HEAD_SIZE)} heads or a larger hidden.")
    return problems + text_share_problems(toy, where)


def text_share_problems(text: dict, where: str) -> list[str]:
    """Pretraining text settings (a toy model's, the tokenizer's format sample) whose two row shares
    leave room: equation_share + target_format_share <= 1."""
    total = text["equation_share"] + text["target_format_share"]
    if total <= 1:
        return []
    return [f"config error at {where}.target_format_share: equation_share + target_format_share = {total:g}; "
            "the two shares of the pretraining rows must sum to at most 1."]


def _check_dataset(dataset: dict, where: str) -> list[str]:
    """A dataset's format takes the field mapping and answer rule it needs, and only then."""
    # A default that depends on another key: the task's own raw format.
    fmt = dataset.setdefault("format", registry.TASKS[dataset["task"]].format)
    mapped = registry.FORMATS[fmt].mapped
    problems = []
    for key in ("fields", "answer_from"):
        if mapped and key not in dataset:
            problems.append(f"config error at {where}.{key}: format '{fmt}' needs it ({_MAPPED_HELP}).")
        elif not mapped and key in dataset:
            problems.append(f"config error at {where}.{key}: only format jsonl takes a field mapping; "
                            f"this dataset's format is '{fmt}' (set format: jsonl, or remove the key).")
    if problems or not mapped:
        return problems
    rule, fields = dataset["answer_from"], dataset["fields"]
    needs = "answer" if rule == "field" else "solution"
    if needs not in fields:
        problems.append(f"config error at {where}.fields.{needs}: answer_from {rule!r} reads the {needs} field; "
                        f"name the raw field that holds it.")
    if isinstance(rule, dict) and "regex" in rule:
        try:
            re.compile(rule["regex"])
        except re.error as e:
            problems.append(f"config error at {where}.answer_from.regex: not a valid regular expression ({e}).")
    return problems


_MAPPED_HELP = ("fields: {question: <raw field>, answer: ..., solution: ..., id: ...}; "
                "answer_from: field | boxed | {after: <marker>} | {regex: <pattern>}")


def _check_stage2_methods(methods: dict, where: str, training_keys: set[str]) -> list[str]:
    problems = []
    for name, entry in methods.items():
        if registry.reserved_method_key(name):
            problems.append(f"config error at {where}.{name}: '{name}' is the name of a baseline or stage I model; "
                            "rename the method.")
        problems += stage2_method_problems(entry["trainer"], entry, f"{where}.{name}", training_keys)
    return problems


def stage2_method_problems(trainer: str, entry: dict, where: str, training_keys: set[str] | None = None) -> list[str]:
    """A stage II method's options belong to its trainer and take values the registry allows."""
    if training_keys is None:
        root = load_schema()
        training_keys = keys_of(root, root["$defs"]["training_keys"])
    spec = registry.PREFERENCE_TRAINERS[trainer]
    problems = []
    for key, value in entry.items():
        if key in training_keys or key in ("trainer", "label"):
            continue
        if key not in spec.options:
            takers = [t for t, s in registry.PREFERENCE_TRAINERS.items() if key in s.options]
            problems.append(f"config error at {where}.{key}: not an option of trainer '{trainer}' "
                            f"(its options: {', '.join(spec.options)}; '{key}' is taken by {', '.join(takers)}).")
            continue
        allowed = spec.options[key]
        bad = [v for v in (value if isinstance(value, list) else [value]) if allowed is not None and v not in allowed]
        if bad:
            problems.append(f"config error at {where}.{key}: {', '.join(map(repr, bad))} not allowed for "
                            f"trainer '{trainer}' (allowed: {', '.join(allowed)}).")
    return problems


def canonical(obj) -> object:
    """A plain, key-sorted copy: Snakemake params compare equal across runs only if stable."""
    return json.loads(json.dumps(obj, sort_keys=True))
