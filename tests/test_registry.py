"""The registry is the one home of the vocabularies: the schema's enums, the TRL classes and options
it names, and the labels of stage II rows all follow from it."""

import dataclasses
import inspect

import pytest

from tests.conftest import ROOT
from w2s import registry
from w2s.config import load_schema

SCHEMA = ROOT / "config" / "schema.yaml"


def _enums(node, found):
    if isinstance(node, dict):
        if "x-vocabulary" in node:
            found.setdefault(node["x-vocabulary"], []).append(node["enum"])
        for value in node.values():
            _enums(value, found)
    elif isinstance(node, list):
        for value in node:
            _enums(value, found)
    return found


def test_schema_enums_come_from_the_registry():
    found = _enums(load_schema(SCHEMA), {})
    assert {"task", "grading_mode", "preference_trainer", "cpu_kernels"} <= set(found)
    for name, enums in found.items():
        assert all(e == registry.vocabulary(name) for e in enums), name
    raw = SCHEMA.read_text()
    for names in (registry.TASKS, registry.PREFERENCE_TRAINERS, registry.CPU_KERNELS):
        # No second list of the same names in the schema file.
        assert f"[{', '.join(names)}]" not in raw


def test_cpu_kernel_settings_pin_x86_only():
    # What rules/common.smk exports before any job: the AVX2 pin on x86-64, nothing elsewhere.
    assert registry.cpu_kernel_env("avx2", "x86_64") == {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"}
    assert registry.cpu_kernel_env("avx2", "AMD64") == registry.cpu_kernel_env("avx2", "x86_64")
    assert registry.cpu_kernel_env("avx2", "aarch64") == {}
    assert registry.cpu_kernel_env("native", "x86_64") == {}


def test_every_trainer_option_is_a_field_of_its_trl_config():
    pytest.importorskip("trl")
    from transformers import TrainingArguments

    shared = {f.name for f in dataclasses.fields(TrainingArguments)}
    for name, spec in registry.PREFERENCE_TRAINERS.items():
        config_cls, trainer_cls = registry.load(spec.config), registry.load(spec.trainer)
        fields = {f.name for f in dataclasses.fields(config_cls)} - shared
        assert set(spec.options) <= fields, (name, set(spec.options) - fields)
        source = inspect.getsource(trainer_cls) + inspect.getsource(config_cls)
        for option, allowed in spec.options.items():
            for value in allowed or ():
                assert f'"{value}"' in source or f"'{value}'" in source, (name, option, value)


def test_schema_documents_exactly_the_registry_options():
    schema = load_schema(SCHEMA)
    documented = set(schema["$defs"]["preference_options"]["properties"])
    taken = {option for spec in registry.PREFERENCE_TRAINERS.values() for option in spec.options}
    assert documented == taken


@pytest.mark.parametrize("entry, label", [
    ({"trainer": "dpo"}, "DPO"),
    ({"trainer": "dpo", "loss_type": "sigmoid"}, "DPO"),
    ({"trainer": "dpo", "loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 1.0]}, "DPO + NLL (RPO)"),
    ({"trainer": "dpo", "loss_type": "ipo"}, "IPO"),
    ({"trainer": "orpo"}, "ORPO"),
    ({"trainer": "cpo"}, "CPO"),
    ({"trainer": "cpo", "loss_type": "simpo", "cpo_alpha": 0.0}, "SimPO"),
    ({"trainer": "cpo", "loss_type": "simpo"}, "CPO-SimPO"),
    ({"trainer": "cpo", "loss_type": "simpo", "cpo_alpha": 0.0, "label": "mine"}, "mine"),
])
def test_method_labels(entry, label):
    assert registry.method_label(entry) == label


def test_table_rows_follow_the_config_order():
    exp = {"iterations": 2, "stage2": {"methods": {"b": {"trainer": "orpo"}, "a": {"trainer": "dpo"}}}}
    rows = registry.table_methods(exp)
    assert [r["stage"] for r in rows] == ["baselines"] * 3 + ["stage I"] * 6 + ["stage II"] * 2 + ["ceiling"]
    assert [r["key"] for r in rows[-3:]] == ["b", "a", "ceiling"]
    assert rows[8] == {"key": "iter2-hybrid", "label": "hybrid-ft (iter 2) = M_plus", "stage": "stage I", "iteration": 2}
    assert registry.table_roles(exp) == {"floor": "weak_floor", "ceiling": "ceiling", "full_weak": "full_weak",
                                         "m_plus": "iter2-hybrid"}


@pytest.mark.parametrize("key, reserved", [("weak_floor", True), ("iter3-icl", True), ("ceiling", True),
                                           ("dpo", False), ("iter-rpo", False)])
def test_reserved_method_keys(key, reserved):
    assert registry.reserved_method_key(key) is reserved
