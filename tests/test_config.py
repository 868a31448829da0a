"""Config validation: key path and allowed values in the message; defaults filled."""

import copy
import json

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


def test_a_list_given_with_snakemake_config_says_to_use_an_overlay_file():
    from snakemake.cli import parse_config

    # Snakemake reads `--config seeds=[7,8]` with YAML's BaseLoader: the list holds text.
    given = parse_config(["seeds=[7,8]"])
    assert given == {"seeds": ["7", "8"]}
    with pytest.raises(ConfigError, match="seeds.0: '7' is not of type 'integer' \\(text that reads as one: "
                                          "`snakemake --config` passes .* --configfile\\)"):
        check(lambda c: c.update(given))
    # Text that is not a number gets no such hint.
    with pytest.raises(ConfigError) as e:
        check(lambda c: c.update(seeds=["seven"]))
    assert "not of type 'integer'" in str(e.value) and "--configfile)" not in str(e.value)


def test_overlays_merge_like_snakemake_configfiles():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    merged = merge_overlays(base, {"a": {"c": [3]}, "e": 2})
    assert merged == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2} and base["a"]["c"] == [1, 2]


# ----------------------------------------------------------------------------- toy models
@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c["models"]["toy-strong"]["toy"].update(hiden=128),
         "config error at models.toy-strong.toy: Additional properties are not allowed \\('hiden' was unexpected\\)"),
        (lambda c: c["models"]["toy-weak"]["toy"].update(heads=3),
         "config error at models.toy-weak.toy.heads: 3 heads do not divide hidden \\(64\\)"),
        (lambda c: c["models"]["toy-weak"]["toy"].update(heads=4),
         "config error at models.toy-weak.toy.heads: head size hidden/heads = 64/4 = 16; vLLM's CPU build needs "
         "at least 32 \\(it dies on the first generate with 16\\). Use at most 2 heads"),
        (lambda c: c["models"]["toy-strong"]["toy"].update(equation_share=0.95),
         "config error at models.toy-strong.toy.target_format_share: equation_share \\+ target_format_share = 1.03"),
        (lambda c: c["models"]["toy-weak"]["toy"].update(layers=0),
         "config error at models.toy-weak.toy.layers: 0 is less than the minimum of 1"),
        (lambda c: c["models"]["toy-weak"]["toy"].pop("hidden"),
         "config error at models.toy-weak.toy: 'hidden' is a required property"),
        (lambda c: c["toy"]["data"].update(max_operands=20),
         "config error at toy.data: Additional properties are not allowed "
         "\\('max_operands' was unexpected\\)"),
        (lambda c: c["toy"]["tokenizer"].update(format_sample={"equation_share": 0.95}),
         "config error at toy.tokenizer.format_sample.target_format_share: "
         "equation_share \\+ target_format_share = 1.02"),
    ],
)
def test_toy_model_settings_are_checked_with_their_key(mutate, message):
    with pytest.raises(ConfigError, match=message):
        check(mutate)


def test_the_schemas_toy_defaults_are_the_tiny_defaults_values():
    """config/schema.yaml's toy world is config/config.yaml's, and $defs.toy_model's pretraining
    defaults are the calibrated strong model's (the schema's description says so), so a toy model
    or a test that leaves a key out gets what the workflow uses."""
    from w2s.config import schema_default

    for part in ("data", "tokenizer"):
        for key, value in BASE["toy"][part].items():
            assert schema_default(f"toy.{part}.{key}") == value, f"toy.{part}.{key}"
    strong = BASE["models"]["toy-strong"]["toy"]
    pretraining = set(strong) - {"layers", "hidden", "heads", "intermediate", "pretrain_steps"}
    assert pretraining >= {"batch_size", "seq_len", "lr", "warmup_steps", "equation_share",
                           "target_format_share"}
    for key in pretraining:
        assert schema_default(f"$defs.toy_model.{key}") == strong[key], key


def test_toy_model_defaults_are_filled():
    """A toy model's left-out keys come from the schema, its text problems' shape from toy.data."""
    from w2s.config import schema_default

    cfg = check(lambda c: (c["models"]["toy-weak"]["toy"].update(pretrain_steps=10, max_value=50),
                           c["toy"]["data"].update(max_operand=7)))
    weak = cfg["models"]["toy-weak"]["toy"]
    assert weak["batch_size"] == schema_default("$defs.toy_model.batch_size")
    assert weak["target_format_share"] == schema_default("$defs.toy_model.target_format_share")
    shape = (weak["max_steps"], weak["max_operand"], weak["max_value"])
    assert shape == (cfg["toy"]["data"]["max_steps"], 7, 50)
    assert cfg["models"]["toy-strong"]["toy"]["max_operand"] == 7
    tokenizer = cfg["toy"]["tokenizer"]
    assert tokenizer["max_value"] is None and tokenizer["format_sample"]["rows"] == \
        schema_default("toy.tokenizer.format_sample.rows")


# ----------------------------------------------------------------------------- demonstrations
@pytest.mark.parametrize(
    "demonstrations, message",
    [
        ({"ids": ["toy-train_2-00003", "toy-train_2-99999"]},
         "config error at experiments.toy.demonstrations.ids: 1 id\\(s\\) not in train_2 of dataset 'toy' \\(the toy "
         "world's, toy.data.train_2\\): 'toy-train_2-99999'; its ids look like 'toy-train_2-00000'"),
        ({"k": 501}, "config error at experiments.toy.demonstrations.k: 501 demonstrations asked for, but train_2 of "
                     "dataset 'toy' has 500 questions"),
        ({"ids_by_weak": {"toy-wek": ["toy-train_2-00001"]}},
         "config error at experiments.toy.demonstrations.ids_by_weak.toy-wek: 'toy-wek' is not a weak model of this "
         "experiment \\(weak: toy-weak\\)"),
        ({"ids_by_weak": {"toy-weak": ["toy-train_2-00001", 7]}},
         "config error at experiments.toy.demonstrations.ids_by_weak.toy-weak: 1 id\\(s\\) not in train_2 .*: '7'"),
    ],
)
def test_demonstrations_are_checked_against_the_toy_data(demonstrations, message):
    with pytest.raises(ConfigError, match=message):
        check(lambda c: c["experiments"]["toy"]["demonstrations"].update(demonstrations))


def test_demonstrations_within_the_toy_data_pass():
    cfg = check(lambda c: (c["toy"]["data"].update(train_2=20),
                           c["experiments"]["toy"]["demonstrations"].update(k=20, ids=["toy-train_2-00019"])))
    assert cfg["experiments"]["toy"]["demonstrations"]["ids"] == ["toy-train_2-00019"]


def test_toy_row_ids_are_the_ones_the_toy_world_writes(tmp_path):
    from w2s import toy
    from w2s.config import known_train_2_ids
    from w2s.data import normalise_split

    sizes = {"train_1": 2, "train_2": 4, "test": 2}
    toy.build_toy_data(str(tmp_path), {**BASE["toy"]["data"], **sizes}, seed=0)
    written = [r["id"] for r in normalise_split("gsm8k", {"path": str(tmp_path / "train_2.jsonl")}, "train_2")]
    cfg = check(lambda c: c["toy"]["data"].update(sizes))
    assert known_train_2_ids(cfg, "toy") == written


def local_dataset(tmp_path, demonstrations):
    rows = [{"id": f"q{i}", "question": f"What is {i} + 1?", "answer": f"{i} + 1 = {i + 1}\n#### {i + 1}"} for i in range(3)]
    for split in ("train_2", "test"):
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps({**r, "id": f"{split}-{r['id']}",
                                                                     "question": f"{split}: {r['question']}"}) + "\n"
                                                         for r in rows))

    def mutate(c):
        c["datasets"]["lab"] = {"task": "gsm8k", "source": {s: {"path": str(tmp_path / f"{s}.jsonl")} for s in ("train_2", "test")}}
        c["models"]["toy-weak"]["finetune"] = False
        c["experiments"]["toy"].update(dataset="lab", test_sets=["lab"], demonstrations=demonstrations)
    return mutate


def test_demonstration_ids_are_checked_against_a_local_train_2(tmp_path):
    assert check(local_dataset(tmp_path, {"k": 2, "ids": ["train_2-q0", "train_2-q2"]}))
    with pytest.raises(ConfigError, match="config error at experiments.toy.demonstrations.ids: 1 id\\(s\\) not in train_2 "
                                          f"of dataset 'lab' \\(datasets.lab.source.train_2.path: {tmp_path}/train_2.jsonl\\): "
                                          "'q1'; its ids look like 'train_2-q0', 'train_2-q1', 'train_2-q2'"):
        check(local_dataset(tmp_path, {"ids": ["train_2-q0", "q1"]}))
    with pytest.raises(ConfigError, match="demonstrations.k: 4 demonstrations asked for, but train_2 of dataset 'lab' "
                                          "has 3 questions"):
        check(local_dataset(tmp_path, {"k": 4}))


def test_a_missing_local_source_file_is_a_config_error(tmp_path):
    mutate = local_dataset(tmp_path, {"k": 2})

    def missing(c):
        mutate(c)
        c["datasets"]["lab"]["source"]["test"]["path"] = str(tmp_path / "tset.jsonl")
    with pytest.raises(ConfigError, match=f"config error at datasets.lab.source.test.path: file not found: "
                                          f"'{tmp_path}/tset.jsonl' \\(a local file; relative paths start at the "
                                          "working directory"):
        check(missing)


@pytest.mark.parametrize("path, message", [
    ("toy", "config error at models.toy-weak.revision: only a hub model has revisions; 'toy' is built by the toy rules"),
    ("./models/mine", "config error at models.toy-weak.revision: only a hub model has revisions; './models/mine' is a "
                      "folder"),
])
def test_a_revision_is_for_hub_models_only(path, message):
    with pytest.raises(ConfigError, match=message):
        validate_config({**copy.deepcopy(BASE), "models": {**copy.deepcopy(BASE["models"]), "toy-weak": {
            **BASE["models"]["toy-weak"], "path": path, "revision": "v1"}}}, SCHEMA, check_paths=False)


def test_a_hub_models_revision_is_kept():
    cfg = validate_config({**copy.deepcopy(BASE), "models": {**copy.deepcopy(BASE["models"]), "toy-weak": {
        **{k: v for k, v in BASE["models"]["toy-weak"].items() if k != "toy"}, "path": "Qwen/Qwen2.5-0.5B",
        "revision": "060db6499f32faf8b98477b0a26969ef7d8b9987"}}}, SCHEMA, check_paths=False)
    assert cfg["models"]["toy-weak"]["revision"] == "060db6499f32faf8b98477b0a26969ef7d8b9987"
    assert cfg["models"]["toy-strong"]["revision"] is None
