"""Model cards, training records, merged weights, and how the workflow wires them.

A tiny Llama trained here with w2s.training (LoRA and full), metrics files written like the
evaluate rule's, cards read back with huggingface_hub.ModelCard.load; the DAG by dry runs; (slow)
every card of the tiny default's end-to-end run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import run_snakemake
from w2s.io import InputError, write_json
from w2s.modelcard import write_model_card
from w2s.models import MODEL_CARD, TRAINING_RECORD

torch = pytest.importorskip("torch")
huggingface_hub = pytest.importorskip("huggingface_hub")
from huggingface_hub import ModelCard  # noqa: E402
from transformers import AutoModelForCausalLM, TrainerCallback  # noqa: E402

from tests.test_training import FAST, make_model, make_records, make_tokenizer  # noqa: E402
from w2s.training import train_sft  # noqa: E402

HUB_TEST = {"path": "hf://openai/gsm8k", "config": "main", "split": "test"}


def spec_for(key="iter1-hybrid", stage="stage I", label="hybrid-ft (iter 1) = M_plus", base="meta-llama/Llama-2-7b-hf"):
    return {
        "model_name": f"toy/toy-weak/{key}", "experiment": "toy",
        "row": {"key": key, "label": label, "stage": stage, "iteration": 1 if stage == "stage I" else None},
        "roles": {"floor": "weak_floor", "ceiling": "ceiling", "full_weak": "full_weak", "m_plus": "iter1-hybrid"},
        "base_model": base, "weak": {"name": "toy-weak", "path": "toy"}, "strong": {"name": "toy-strong", "path": base},
        "task": "gsm8k", "train_source": {"name": "gsm8k", "source": {"train_2": {"path": "data/train_2.jsonl"},
                                                                       "test": HUB_TEST}},
        "test_sets": {"gsm8k": {"task": "gsm8k", "source": HUB_TEST}, "toy": {"task": "gsm8k", "source": "toy"}},
        "seed": 0, "grading_mode": "equivalence", "license": "llama2",
    }


def write_metrics(folder: Path, method: str, values: dict[str, tuple[int, int]]) -> list[str]:
    """Metrics files shaped like the evaluate rule's: {testset: (correct, n)}."""
    paths = []
    for testset, (correct, n) in values.items():
        path = folder / f"{testset}.metrics.json"
        write_json(path, {"exp": "toy", "owner": "toy-weak", "method": method, "testset": testset, "seed": 0,
                          "n": n, "correct": correct, "accuracy": correct / n, "task": "gsm8k",
                          "grader": "w2s-grader-test/equivalence"})
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A LoRA adapter and a full model trained by train_sft on a tiny base."""
    root = tmp_path_factory.mktemp("cards")
    base = make_model(root / "base", make_tokenizer())
    records = make_records(48)
    out = {"root": root, "base": base}
    for method in ("lora", "full"):
        out[method] = str(root / method)
        train_sft(base, records, out[method], {**FAST, "method": method}, str(root / f"work_{method}"), seed=3)
    return out


def eval_results_by_dataset(card) -> dict[str, float]:
    return {r.dataset_name: r.metric_value for r in card.data.eval_results}


# ----------------------------------------------------------------------------------------------- record
def test_training_record_is_in_the_folder_and_says_how_it_was_trained(trained):
    lora = json.loads((Path(trained["lora"]) / TRAINING_RECORD).read_text())
    assert (lora["kind"], lora["method"], lora["seed"]) == ("sft", "lora", 3)
    assert lora["start_model"] == trained["base"] and lora["adapter_base"] == trained["base"]
    assert lora["records"] == 48 and lora["steps"] == FAST["max_steps"] and len(lora["data_sha256"]) == 64
    assert lora["config"]["lora"]["r"] == FAST["lora"]["r"] and "seconds" not in lora
    full = json.loads((Path(trained["full"]) / TRAINING_RECORD).read_text())
    assert full["method"] == "full" and full["adapter_base"] is None
    # No card until the card rule writes one (PEFT saves a template README.md with every adapter).
    assert not (Path(trained["lora"]) / MODEL_CARD).exists() and not (Path(trained["full"]) / MODEL_CARD).exists()


class FailAtStep(TrainerCallback):
    def __init__(self, seen: dict, out: Path):
        self.seen, self.out = seen, out

    def on_step_end(self, args, state, control, **kwargs):
        self.seen["folder during training"] = self.out.exists()
        raise RuntimeError("simulated kill")


def test_retraining_removes_the_old_model_and_card_first(trained, tmp_path):
    """A rerun that dies leaves neither the old model and card nor anything that looks complete."""
    out = tmp_path / "model"
    out.mkdir()
    (out / MODEL_CARD).write_text("---\nlicense: other\n---\nstale card\n")
    (out / TRAINING_RECORD).write_text("{}")
    seen = {}
    with pytest.raises(RuntimeError, match="simulated kill"):
        train_sft(trained["base"], make_records(16), str(out), {**FAST, "method": "full"}, str(tmp_path / "w"),
                  callbacks=[FailAtStep(seen, out)])
    assert seen == {"folder during training": False}
    assert not out.exists()
    assert not list(tmp_path.rglob(TRAINING_RECORD))


# ----------------------------------------------------------------------------------------------- cards
def test_adapter_card_parses_and_its_metrics_equal_the_metrics_files(trained, tmp_path):
    metrics = write_metrics(tmp_path, "iter1-hybrid", {"gsm8k": (7, 13), "toy": (100, 300)})
    card_path = write_model_card(trained["lora"], metrics, spec_for())
    assert card_path == Path(trained["lora"]) / MODEL_CARD
    card = ModelCard.load(str(card_path))
    data = card.data
    assert data.library_name == "peft" and data.base_model == "meta-llama/Llama-2-7b-hf"
    assert data.get("base_model_relation") == "adapter" and data.license == "llama2"
    assert data.datasets == ["openai/gsm8k"] and data.pipeline_tag == "text-generation"
    assert {"weak-to-strong", "stage-i", "iter1-hybrid", "sft", "lora"} <= set(data.tags)
    files = {json.loads(Path(p).read_text())["testset"]: json.loads(Path(p).read_text()) for p in metrics}
    assert eval_results_by_dataset(card) == {t: m["accuracy"] for t, m in files.items()}
    by_name = {r.dataset_name: r for r in data.eval_results}
    assert by_name["gsm8k"].dataset_type == "openai/gsm8k" and by_name["gsm8k"].dataset_config == "main"
    assert by_name["toy"].dataset_type == "toy" and by_name["toy"].dataset_split == "test"
    assert all(r.metric_config == "w2s-grader-test/equivalence" and "w2s-grader-test" in r.metric_name
               for r in data.eval_results)
    assert "M_plus" in card.text and "AutoPeftModelForCausalLM" in card.text and "| 7 / 13 |" in card.text


def test_full_model_card_without_hub_base(trained, tmp_path):
    metrics = write_metrics(tmp_path, "ceiling", {"toy": (3, 4)})
    spec = {**spec_for("ceiling", "ceiling", "strong ceiling", base="toy"),
            "test_sets": {"toy": {"task": "gsm8k", "source": "toy"}}, "train_source": {"name": "toy", "source": "toy"}}
    card = ModelCard.load(str(write_model_card(trained["full"], metrics, spec)))
    assert card.data.library_name == "transformers"
    # A base that is no Hub repository is not claimed as one.
    assert card.data.base_model is None and card.data.datasets is None
    assert eval_results_by_dataset(card) == {"toy": 0.75}
    assert "strong ceiling" in card.text and "set `base_model`" in card.text


def test_the_cards_loading_code_runs(trained, tmp_path):
    metrics = write_metrics(tmp_path, "iter1-hybrid", {"toy": (1, 2)})
    card = ModelCard.load(str(write_model_card(trained["lora"], metrics, spec_for())))
    code = re.search(r"```python\n(.*?)```", card.text, re.S).group(1)
    code = code.replace("max_new_tokens=256", "max_new_tokens=4")
    namespace = {}
    exec(compile(code, "card", "exec"), namespace)  # the card's own snippet, verbatim otherwise
    assert type(namespace["model"]).__name__.startswith("Peft")


def test_card_is_the_same_bytes_twice(trained, tmp_path):
    metrics = write_metrics(tmp_path, "iter1-hybrid", {"toy": (1, 3)})
    a = write_model_card(trained["lora"], metrics, spec_for(), card_path=str(tmp_path / "a.md")).read_bytes()
    b = write_model_card(trained["lora"], metrics, spec_for(), card_path=str(tmp_path / "b.md")).read_bytes()
    assert a == b


def test_bad_inputs_fail_clearly(trained, tmp_path):
    other = write_metrics(tmp_path, "dpo", {"toy": (1, 3)})
    with pytest.raises(InputError, match="metrics of method 'dpo', not of 'iter1-hybrid'"):
        write_model_card(trained["lora"], other, spec_for())
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=f"no {TRAINING_RECORD}"):
        write_model_card(str(tmp_path / "empty"), other, spec_for("dpo", "stage II", "DPO"))


# ----------------------------------------------------------------------------------------------- merge
def test_merged_weights_equal_the_adapter_and_carry_a_card(trained, tmp_path):
    from peft import PeftModel

    from w2s.merge import merge_adapter

    metrics = write_metrics(tmp_path, "iter1-hybrid", {"toy": (2, 3)})
    out = merge_adapter(trained["lora"], str(tmp_path / "merged"), metrics, spec_for())
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()
    assert (out / "tokenizer.json").is_file()
    card = ModelCard.load(str(out / MODEL_CARD))
    assert card.data.library_name == "transformers" and "merged-lora" in card.data.tags
    assert eval_results_by_dataset(card) == {"toy": 2 / 3}
    assert json.loads((out / TRAINING_RECORD).read_text())["merged_from"] == trained["lora"]

    merged = AutoModelForCausalLM.from_pretrained(out).eval()
    adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(trained["base"]), trained["lora"]).eval()
    x = torch.tensor([[1, 5, 9, 17, 33]])
    with torch.no_grad():
        assert torch.allclose(merged(x).logits, adapter(x).logits, atol=1e-4)


def test_merging_full_weights_is_refused(trained, tmp_path):
    from w2s.merge import merge_adapter

    with pytest.raises(InputError, match="holds full weights, not a LoRA adapter"):
        merge_adapter(trained["full"], str(tmp_path / "merged"), [], spec_for())
    assert not (tmp_path / "merged").exists()


# ----------------------------------------------------------------------------------------------- DAG
def jobs(res) -> dict[str, int]:
    from tests.test_workflow import jobs_listed

    assert res.returncode == 0, res.stderr[-3000:]
    return jobs_listed(res.stdout)


def test_every_trained_model_gets_a_card_and_merge_is_not_in_all(workflow_copy):
    stats = jobs(run_snakemake(workflow_copy, "-n", timeout=120))
    # weak SFT + 8 strong SFT (6 stage I, full weak, ceiling) + DPO + ORPO
    assert stats["write_model_card"] == 11 and "merge_adapter" not in stats
    res = run_snakemake(workflow_copy, "-n", "--forceall", "results/toy/seed0/toy-weak/models/dpo/README.md", timeout=120)
    stats = jobs(res)
    assert stats["write_model_card"] == 1 and stats["evaluate"] == 1, stats
    assert "results/toy/seed0/toy-weak/models/dpo/w2s_training.json" in res.stdout


def test_merge_target_lists_the_lora_models_only(workflow_copy):
    overlay = workflow_copy / "lora.yaml"
    overlay.write_text("models:\n  toy-strong:\n    sft:\n      method: lora\n")
    stats = jobs(run_snakemake(workflow_copy, "-n", "merge", "--configfile", "config/config.yaml", str(overlay),
                               timeout=120))
    # The strong models are adapters (DPO / ORPO continue M_plus's); the weak model stays full.
    assert stats["merge_adapter"] == 10, stats
    res = run_snakemake(workflow_copy, "-n", "merge", timeout=120)
    assert res.returncode == 0 and "merge_adapter" not in res.stdout


# ----------------------------------------------------------------------------------------------- e2e
@pytest.mark.slow
def test_every_model_folder_of_the_default_run_has_a_card_equal_to_its_metrics(e2e_run):
    toy = e2e_run / "results/toy/seed0"
    records = sorted(toy.glob("*/weak_model/" + TRAINING_RECORD)) + sorted(toy.glob("*/models/*/" + TRAINING_RECORD))
    assert len(records) == 11
    for record in records:
        folder = record.parent
        card = ModelCard.load(str(folder / MODEL_CARD))
        method = "weak_floor" if folder.name == "weak_model" else folder.name
        owner_dir = folder.parent if folder.name == "weak_model" else folder.parents[1]
        metrics = {p.name.removesuffix(".metrics.json"): json.loads(p.read_text())
                   for p in (owner_dir / "eval" / method).glob("*.metrics.json")}
        assert metrics, folder
        assert eval_results_by_dataset(card) == {t: m["accuracy"] for t, m in metrics.items()}, folder
        assert card.data.library_name == "transformers"  # the tiny default trains full weights
        assert {r.metric_config for r in card.data.eval_results} == {m["grader"] for m in metrics.values()}
