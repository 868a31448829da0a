"""Config validation: key path and allowed values in the message; defaults filled."""

import copy

import pytest
import yaml

from tests.conftest import ROOT
from w2s.config import ConfigError, merge_overlays, validate_config

SCHEMA = ROOT / "config" / "schema.yaml"
BASE = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def check(mutate):
    cfg = copy.deepcopy(BASE)
    mutate(cfg)
    return validate_config(cfg, SCHEMA)


def test_default_config_is_valid_and_defaults_are_filled():
    cfg = check(lambda c: None)
    assert cfg["experiments"]["toy"]["stage2"]["max_pairs"] == 1
    assert cfg["experiments"]["toy"]["test_sets"] == ["toy"]
    assert cfg["grading"]["mode"] == "equivalence"
    assert cfg["models"]["toy-strong"]["generation"]["tensor_parallel_size"] == 1
    assert check(lambda c: c.pop("seeds"))["seeds"] == [0]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c["experiments"]["toy"]["stage2"].update(tau=1.5),
         "experiments.toy.stage2.tau: 1.5 is greater than the maximum of 1"),
        (lambda c: c["datasets"]["toy"].update(task="gsm9k"),
         "datasets.toy.task: 'gsm9k' is not one of \\['gsm8k', 'math', 'olympicarena'\\]"),
        (lambda c: c["experiments"]["toy"].update(dataset="nope"), "experiments.toy.dataset: unknown dataset 'nope'"),
        (lambda c: c["models"]["toy-weak"]["sft"].update(lr=1), "'lr' was unexpected\\) \\(allowed keys: accelerate_config"),
        (lambda c: c["models"]["toy-weak"].update(path="./no/such/model"), "models.toy-weak.path: model './no/such/model'"),
        (lambda c: c["experiments"]["toy"]["stage2"].update(flip_threshold=0.5), "is below tau"),
        (lambda c: c["grading"].update(mode="fuzzy"), "grading.mode: 'fuzzy' is not one of"),
        (lambda c: c.update(seeds=[]), "config error at seeds: \\[\\] should be non-empty"),
        (lambda c: c.update(seeds=[1, 1]), "config error at seeds: \\[1, 1\\] has non-unique elements"),
        (lambda c: c.update(seeds=[-1]), "config error at seeds.0: -1 is less than the minimum of 0"),
        (lambda c: (c.pop("seeds"), c.update(seed=3)), "the seed is a list now: seeds: \\[0\\]"),
    ],
)
def test_errors_name_the_key(mutate, message):
    with pytest.raises(ConfigError, match=message):
        check(mutate)


def test_overlays_merge_like_snakemake_configfiles():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    merged = merge_overlays(base, {"a": {"c": [3]}, "e": 2})
    assert merged == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2} and base["a"]["c"] == [1, 2]
