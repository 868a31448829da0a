"""config/schema.yaml as the one home of every default: loading it, filling defaults while
validating, and reading one key's default or range by its config path.

Python code never writes a config default itself: it reads a validated config, or asks here
(``schema_default("experiments.*.stage2.tau")``, ``validated("training", cfg, "training config")``).
A ``*`` in a path stands for any name (a dataset, a model, an experiment).
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import jsonschema
import yaml

from . import registry

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"


class ConfigError(ValueError):
    """The config is invalid; the message names the key and what to do."""


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


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    """config/schema.yaml with the registry's vocabularies filled in."""
    return _fill_vocabularies(yaml.safe_load(Path(path).read_text()))


@functools.lru_cache(maxsize=4)
def _cached_schema(path: str) -> str:
    return json.dumps(load_schema(path))


def schema(path: str | Path = SCHEMA_PATH) -> dict:
    """A fresh copy of the loaded schema (read from disk once per process)."""
    return json.loads(_cached_schema(str(path)))


def resolve(schema_root: dict, sub: dict) -> dict:
    """Follow ``$ref`` until a node with a default or without a reference."""
    while "$ref" in sub and "default" not in sub:
        ref = sub["$ref"]
        if not ref.startswith("#/"):
            break
        node = schema_root
        for part in ref[2:].split("/"):
            node = node[part]
        sub = node
    return sub


def keys_of(schema_root: dict, sub: dict) -> set[str]:
    """Every property a (sub)schema allows, through $ref and allOf."""
    sub = resolve(schema_root, sub) if "$ref" in sub else sub
    keys = set(sub.get("properties") or {})
    for part in sub.get("allOf") or []:
        keys |= keys_of(schema_root, part)
    return keys


def _property(schema_root: dict, sub: dict, key: str) -> dict | None:
    """The schema of ``key`` inside ``sub`` ('*': any name), through $ref and allOf."""
    sub = resolve(schema_root, sub)
    if key == "*":
        extra = sub.get("additionalProperties")
        return resolve(schema_root, extra) if isinstance(extra, dict) else None
    if key in (sub.get("properties") or {}):
        return resolve(schema_root, sub["properties"][key])
    for part in sub.get("allOf") or []:
        found = _property(schema_root, part, key)
        if found is not None:
            return found
    return None


def schema_node(path: str, schema_root: dict | None = None) -> dict:
    """The schema of one config key, e.g. ``experiments.*.stage2.tau`` or ``$defs.training``."""
    root = schema_root or schema()
    parts = path.split(".")
    if parts[0] == "$defs":
        node, parts = root["$defs"][parts[1]], parts[2:]
    else:
        node = root
    for i, key in enumerate(parts):
        found = _property(root, node, key)
        if found is None:
            raise KeyError(f"config/schema.yaml has no key {'.'.join(parts[: i + 1])!r}")
        node = found
    return node


def schema_default(path: str):
    """The default of one config key, as config/schema.yaml gives it (a copy)."""
    node = schema_node(path)
    if "default" not in node:
        raise KeyError(f"config/schema.yaml gives {path!r} no default")
    return copy.deepcopy(node["default"])


def validator_with_defaults(schema_root: dict, sub: dict | None = None):
    """A Draft 2020-12 validator of ``sub`` (default: the whole schema) that fills defaults."""
    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, node):
        if isinstance(instance, dict):
            for prop, prop_schema in properties.items():
                target = resolve(schema_root, prop_schema)
                if prop not in instance and "default" in target:
                    instance[prop] = copy.deepcopy(target["default"])
        yield from validate_properties(validator, properties, instance, node)

    target = schema_root if sub is None else {"$defs": schema_root["$defs"], **sub}
    return jsonschema.validators.extend(base, {"properties": set_defaults})(target)


def error_path(error: jsonschema.ValidationError, prefix: str = "") -> str:
    parts = [prefix] if prefix else []
    return ".".join(parts + [str(p) for p in error.absolute_path]) or "(top level)"


def _reads_as(value, types) -> bool:
    """Whether ``value`` is text that YAML would read as one of the JSON-schema ``types``."""
    if not isinstance(value, str):
        return False
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return False
    kinds = {"integer": int, "number": (int, float), "boolean": bool}
    wanted = [kinds[t] for t in ([types] if isinstance(types, str) else types) if t in kinds]
    return any(isinstance(parsed, k) and (k is bool or not isinstance(parsed, bool)) for k in wanted)


def problems_of(schema_root: dict, validator, instance, prefix: str = "") -> list[str]:
    """Fill defaults into ``instance`` and list its problems, one message per error."""
    # Defaults are filled during validation; a second pass validates the filled-in values.
    list(validator.iter_errors(instance))
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    problems = []
    for e in errors:
        msg = e.message
        if e.validator in ("additionalProperties", "unevaluatedProperties"):
            allowed = sorted(keys_of(schema_root, e.schema))
            msg += f" (allowed keys: {', '.join(allowed)})" if allowed else ""
            if not e.absolute_path and not prefix and "seed" in e.instance:
                msg += "; the seed is a list now: seeds: [0] (one run of the method per seed)"
        elif e.validator == "type" and _reads_as(e.instance, e.validator_value):
            msg += (" (text that reads as one: `snakemake --config` passes the values inside a list or "
                    "mapping as text; put them in an overlay file and pass it with --configfile)")
        elif e.validator == "oneOf" and error_path(e).endswith("source"):
            msg = "must be 'toy' or a mapping with train_2, test (and train_1) sources, each {path: ...}"
        problems.append(f"config error at {error_path(e, prefix)}: {msg}")
    return problems


def validated(definition: str, instance: dict | None, where: str) -> dict:
    """A copy of ``instance`` checked against ``$defs.<definition>``, every default filled.

    ``where`` names the block in messages (e.g. ``models.toy-weak.sft``). Raises ConfigError.
    """
    root = schema()
    out = copy.deepcopy(dict(instance or {}))
    problems = problems_of(root, validator_with_defaults(root, {"$ref": f"#/$defs/{definition}"}), out, where)
    if problems:
        raise ConfigError("\n".join(problems) + "\nconfig/schema.yaml documents every key.")
    return out


def check_value(path: str, value, name: str | None = None):
    """``value`` if config/schema.yaml allows it for ``path``; else ConfigError saying what is
    allowed, naming ``name`` (default: the config key)."""
    node = schema_node(path)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(node).iter_errors(value))
    if error is None:
        return value
    allowed = describe(node)
    where = f"config key {path}" if name is None else None
    detail = "; ".join(p for p in (f"allowed: {allowed}" if allowed else "", where) if p)
    raise ConfigError(f"{name + ': ' if name else ''}{error.message}" + (f" ({detail})" if detail else ""))


def describe(node: dict) -> str:
    """What a scalar schema allows, in words: a range, or a list of values."""
    if "enum" in node:
        return ", ".join(map(str, node["enum"]))
    low = (f"> {node['exclusiveMinimum']}" if "exclusiveMinimum" in node
           else f">= {node['minimum']}" if "minimum" in node else "")
    high = (f"< {node['exclusiveMaximum']}" if "exclusiveMaximum" in node
            else f"<= {node['maximum']}" if "maximum" in node else "")
    return " and ".join(p for p in (low, high) if p)
