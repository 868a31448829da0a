"""Every default lives in config/schema.yaml: no Python literal in src/ gives a config key its
default (a CLI run or a test of a step would otherwise use other values than the workflow).

What counts, for the name of a schema key that has a default (scheduler resources excepted: a
job's gpus/threads/mem_mb/runtime and grading.workers change how fast, never what comes out):
- an argparse option ``--<key>`` with a literal ``default=``;
- ``.get("<key>", <literal>)`` / ``.setdefault("<key>", <literal>)``;
- a dict literal that pairs ``"<key>"`` with the key's schema default, or that pairs three or
  more schema keys with literals (a table of defaults, whatever its values);
- a function parameter or class field named ``<key>`` whose literal default equals the key's
  schema default.
``None`` ("not given") is never a default value here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT
from w2s import registry
from w2s.schema import load_schema, resolve

# Keys that size a job, not its result.
RESOURCE_KEYS = {"gpus", "threads", "mem_mb", "runtime", "workers"}
# (file, key): why the literal there is not a default of that config key.
ALLOWED = {
    ("src/w2s/generation/common.py", "top_p"): "SamplingConfig: 1.0 is no nucleus cut, the decoding of greedy "
                                                "jobs; stage II sampling always passes stage2.top_p",
    ("src/w2s/generation/vllm_backend.py", "r"): "reads PEFT's adapter_config.json; 8 is PEFT's own LoraConfig default",
    ("src/w2s/generation/testing.py", "lr"): "train_tiny_lm: the generation benchmark's own throwaway "
                                             "model, not a toy model's pretraining lr (models.<name>.toy.lr)",
}
# Whole files outside this check, each with the reason and who removes the entry.
ALLOWED_FILES: dict[str, str] = {}


def schema_defaults() -> dict[str, list]:
    """Key name -> the defaults config/schema.yaml (and the registry's per-task pairs) give it."""
    schema = load_schema()
    found: dict[str, list] = {}

    def walk(node, name=None, seen=()):
        if isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                return
            if name and "default" in node:
                found.setdefault(name, []).append(node["default"])
            walk(resolve(schema, {"$ref": ref}), name, (*seen, ref))
            return
        if not isinstance(node, dict):
            return
        if name and "default" in node and not isinstance(node["default"], dict):
            found.setdefault(name, []).append(node["default"])
        for key, sub in (node.get("properties") or {}).items():
            walk(sub, key, seen)
        for key in ("additionalProperties", "items"):
            if isinstance(node.get(key), dict):
                walk(node[key], None, seen)
        for part in node.get("allOf") or []:
            walk(part, name, seen)

    walk(schema)
    found.setdefault("max_pairs", []).extend(t.max_pairs for t in registry.TASKS.values())
    return {k: [v for v in vs if v is not None] for k, vs in found.items() if k not in RESOURCE_KEYS}


def _literal(node):
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _same(value, defaults) -> bool:
    return any(type(value) is type(d) or isinstance(value, (int, float)) and isinstance(d, (int, float))
               for d in defaults if value == d) and value is not None


def literal_defaults(source: str, defaults: dict[str, list]) -> list[tuple[int, str, str]]:
    """(line, key, what) for every literal default of a config key in ``source``."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            entries = [(k.value, *_literal(v)) for k, v in zip(node.keys, node.values)
                       if isinstance(k, ast.Constant) and k.value in defaults]
            entries = [(k, v) for k, ok, v in entries if ok and v is not None]
            for key, value in entries:
                if len(entries) >= 3 or _same(value, defaults[key]):
                    hits.append((node.lineno, key, f"dict entry {key!r}: {value!r}"))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
            for arg, default in pairs:
                ok, value = _literal(default)
                if ok and arg.arg in defaults and _same(value, defaults[arg.arg]):
                    hits.append((node.lineno, arg.arg, f"parameter {arg.arg}={value!r}"))
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                    ok, value = _literal(stmt.value)
                    if ok and stmt.target.id in defaults and _same(value, defaults[stmt.target.id]):
                        hits.append((stmt.lineno, stmt.target.id, f"field {node.name}.{stmt.target.id} = {value!r}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            hits += _call_defaults(node, defaults)
    return hits


def _call_defaults(node: ast.Call, defaults: dict[str, list]) -> list[tuple[int, str, str]]:
    name, args = node.func.attr, node.args
    if name in ("get", "setdefault") and len(args) == 2 and isinstance(args[0], ast.Constant):
        ok, value = _literal(args[1])
        if args[0].value in defaults and ok and value is not None:
            return [(node.lineno, args[0].value, f".{name}({args[0].value!r}, {value!r})")]
    if name == "add_argument" and args and isinstance(args[0], ast.Constant) and str(args[0].value).startswith("--"):
        key = args[0].value[2:].replace("-", "_")
        for kw in node.keywords:
            ok, value = _literal(kw.value) if kw.arg == "default" else (False, None)
            if ok and value is not None and key in defaults:
                return [(node.lineno, key, f"argparse {args[0].value} default={value!r}")]
    return []


def test_no_literal_config_default_in_src():
    defaults = schema_defaults()
    found = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel in ALLOWED_FILES:
            continue
        for line, key, what in literal_defaults(path.read_text(), defaults):
            if (rel, key) not in ALLOWED:
                found.append(f"{rel}:{line}: {what} (config/schema.yaml: {defaults[key]})")
    assert not found, "literal defaults of config keys (read the validated config or w2s.config.schema_default):\n" \
        + "\n".join(found)


@pytest.mark.parametrize("snippet, key", [
    ("DEFAULTS = {'max_length': 2048, 'epochs': 3, 'warmup_ratio': 0.0}", "max_length"),  # a table of defaults
    ("LORA = {'dropout': 0.05}", "dropout"),
    ("def mine(tau=0.6): ...", "tau"),
    ("def f(*, mode='equivalence'): ...", "mode"),
    ("p.add_argument('--flip-threshold', type=float, default=0.9)", "flip_threshold"),
    ("cfg.get('beta', 0.2)", "beta"),
    ("class S:\n    temperature: float = 1.0", "temperature"),
])
def test_the_check_finds_literal_defaults(snippet, key):
    assert key in {k for _, k, _ in literal_defaults(snippet, schema_defaults())}


@pytest.mark.parametrize("snippet", [
    "x = {'answer': 1, 'id': 2}",          # not config keys
    "def f(seed_offset=17): ...",
    "def f(tau): ...",                     # no default
    "def f(mode=None): ...",               # "not given"
    "def f(n=3): ...",                     # a different value than stage2.n's default
    "d = {'max_length': 64}",              # one key, not its default
    "p.add_argument('--workers', default=1)",  # a resource
])
def test_the_check_leaves_other_literals_alone(snippet):
    assert literal_defaults(snippet, schema_defaults()) == []


def test_allowlist_entries_still_exist():
    for rel, _ in ALLOWED:
        assert (ROOT / rel).is_file(), rel
    assert all(reason for reason in [*ALLOWED.values(), *ALLOWED_FILES.values()])
    for rel in ALLOWED_FILES:
        if not (ROOT / rel).is_file():
            pytest.fail(f"{rel} is gone: remove its entry from ALLOWED_FILES")
