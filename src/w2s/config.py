"""Config validation: JSON Schema (config/schema.yaml) with defaults, then cross-references.

Errors name the key path and what is allowed, e.g.::

    config error at experiments.toy.stage2.tau: 1.5 is greater than the maximum of 1

so a bad overlay fails before any job starts, not hours later inside a GPU job.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import yaml

from . import registry
from .models import check_local_model

RESERVED_NAMES = {"ceiling", "data", "tables", "figures", "toy_world", "logs", "benchmarks"}
DEFAULT_MAX_PAIRS = {"gsm8k": 1, "math": 3, "olympicarena": 3}


class ConfigError(ValueError):
    """The config is invalid; the message names the key and what to do."""


def _resolve(schema_root: dict, sub: dict) -> dict:
    while "$ref" in sub and "default" not in sub:
        ref = sub["$ref"]
        if not ref.startswith("#/"):
            break
        node = schema_root
        for part in ref[2:].split("/"):
            node = node[part]
        sub = node
    return sub


def _validator_with_defaults(schema: dict):
    """A Draft 2020-12 validator that fills ``default`` values while it validates."""
    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, sub):
        if isinstance(instance, dict):
            for prop, prop_schema in properties.items():
                target = _resolve(schema, prop_schema)
                if prop not in instance and "default" in target:
                    instance[prop] = copy.deepcopy(target["default"])
        yield from validate_properties(validator, properties, instance, sub)

    return jsonschema.validators.extend(base, {"properties": set_defaults})(schema)


def _path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _fill_vocabularies(node):
    """Give every ``x-vocabulary: <name>`` node the registry's names as its enum."""
    if isinstance(node, dict):
        if "x-vocabulary" in node:
            node["enum"] = registry.vocabulary(node["x-vocabulary"])
        for value in node.values():
            _fill_vocabularies(value)
    elif isinstance(node, list):
        for value in node:
            _fill_vocabularies(value)
    return node


def load_schema(path: str | Path) -> dict:
    """config/schema.yaml with the registry's vocabularies filled in."""
    return _fill_vocabularies(yaml.safe_load(Path(path).read_text()))


def _keys_of(schema_root: dict, sub: dict) -> set[str]:
    """Every property a (sub)schema allows, through $ref and allOf."""
    sub = _resolve(schema_root, sub) if "$ref" in sub else sub
    keys = set(sub.get("properties") or {})
    for part in sub.get("allOf") or []:
        keys |= _keys_of(schema_root, part)
    return keys


def _drop_removed_methods(config: dict) -> None:
    """``methods: {orpo: null}`` in an overlay removes a stage II method (YAML overlays only merge)."""
    for exp in (config.get("experiments") or {}).values():
        methods = ((exp or {}).get("stage2") or {}).get("methods") if isinstance(exp, dict) else None
        if isinstance(methods, dict):
            for name in [k for k, v in methods.items() if v is None]:
                del methods[name]


def validate_config(config: dict, schema_path: str | Path, check_paths: bool = True) -> dict:
    """Fill defaults into ``config`` in place, validate it, and check cross-references.

    Raises ConfigError with every problem found, one per line.
    """
    schema = load_schema(schema_path)
    _drop_removed_methods(config)
    validator = _validator_with_defaults(schema)
    # Defaults are filled during validation; a second pass validates the filled-in values.
    list(validator.iter_errors(config))
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    problems = []
    for e in errors:
        msg = e.message
        if e.validator in ("additionalProperties", "unevaluatedProperties"):
            allowed = sorted(_keys_of(schema, e.schema))
            msg += f" (allowed keys: {', '.join(allowed)})" if allowed else ""
            if not e.absolute_path and "seed" in e.instance:
                msg += "; the seed is a list now: seeds: [0] (one run of the method per seed)"
        elif e.validator == "oneOf" and _path(e).endswith("source"):
            msg = "must be 'toy' or a mapping with train_2, test (and train_1) sources, each {path: ...}"
        problems.append(f"config error at {_path(e)}: {msg}")
    if not problems:
        problems = _cross_check(config, check_paths, _keys_of(schema, schema["$defs"]["training_keys"]))
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
    for name, model in models.items():
        if model["path"] == "toy" and "toy" not in model:
            problems.append(f"config error at models.{name}.toy: a model with path 'toy' needs its toy architecture.")
        elif model["path"] != "toy" and check_paths:
            try:
                check_local_model(model["path"])
            except FileNotFoundError as e:
                problems.append(f"config error at models.{name}.path: {e}")
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
            needs = [w for w in exp["weak"] if w in models and models[w].get("finetune", True)]
            if needs:
                problems.append(f"config error at datasets.{exp['dataset']}.source.train_1: weak model(s) "
                                f"{', '.join(needs)} are fine-tuned on train_1, but the dataset has none "
                                "(set finetune: false to use them as is).")
        stage2 = exp["stage2"]
        stage2.setdefault("max_pairs", DEFAULT_MAX_PAIRS[dataset["task"]])
        if stage2["flip_threshold"] < stage2["tau"]:
            problems.append(f"config error at {where}.stage2.flip_threshold: {stage2['flip_threshold']} is below "
                            f"tau ({stage2['tau']}); the flip rule only applies above tau.")
        problems += _check_stage2_methods(stage2["methods"], f"{where}.stage2.methods", training_keys)
    return problems


def _check_stage2_methods(methods: dict, where: str, training_keys: set[str]) -> list[str]:
    """Each method's options belong to its trainer and take values the registry allows."""
    problems = []
    for name, entry in methods.items():
        if registry.reserved_method_key(name):
            problems.append(f"config error at {where}.{name}: '{name}' is the name of a baseline or stage I model; "
                            "rename the method.")
        spec = registry.PREFERENCE_TRAINERS[entry["trainer"]]
        for key, value in entry.items():
            if key in training_keys or key in ("trainer", "label"):
                continue
            if key not in spec.options:
                takers = [t for t, s in registry.PREFERENCE_TRAINERS.items() if key in s.options]
                problems.append(f"config error at {where}.{name}.{key}: not an option of trainer '{entry['trainer']}' "
                                f"(its options: {', '.join(spec.options)}; '{key}' is taken by {', '.join(takers)}).")
                continue
            allowed = spec.options[key]
            values = value if isinstance(value, list) else [value]
            bad = [v for v in values if allowed is not None and v not in allowed]
            if bad:
                problems.append(f"config error at {where}.{name}.{key}: {', '.join(map(repr, bad))} not allowed for "
                                f"trainer '{entry['trainer']}' (allowed: {', '.join(allowed)}).")
    return problems


def canonical(obj) -> object:
    """A plain, key-sorted copy: Snakemake params compare equal across runs only if stable."""
    return json.loads(json.dumps(obj, sort_keys=True))
