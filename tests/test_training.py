"""Tests of w2s.training on a tiny Llama (2 layers, hidden 64, head_dim 32) and a tokenizer
trained here with `tokenizers` on synthetic addition problems. No hub access, CPU only."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from safetensors.torch import load_file  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    TrainerCallback,
)

from w2s.config import ConfigError, schema_default  # noqa: E402
from w2s.io import InputError  # noqa: E402
from w2s.loading import ensure_pad_token, load_for_inference  # noqa: E402
from w2s.training import (  # noqa: E402
    build_preference_trainer,
    build_sft_trainer,
    last_complete_checkpoint,
    resolve_cfg,
    train_preference,
    train_sft,
)

torch.set_num_threads(1)


# ----------------------------------------------------------------------------------------------
# A tiny world


def make_records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(0, 20), rng.randint(0, 20)
        out.append({
            "prompt": f"Question: What is {a} plus {b}?\nAnswer:",
            "completion": f" {a} + {b} = {a + b}. #### {a + b}",
        })
    return out


def make_pairs(n: int, seed: int = 1) -> list[dict]:
    return [
        {"prompt": r["prompt"], "chosen": r["completion"], "rejected": r["completion"].replace("#### ", "#### 1")}
        for r in make_records(n, seed)
    ]


def make_tokenizer(pad: bool = True, unk: bool = True) -> PreTrainedTokenizerFast:
    """Byte-level BPE (300 tokens) that adds BOS like Llama's tokenizer."""
    texts = [r["prompt"] + r["completion"] for r in make_records(300, seed=1)]
    tok = Tokenizer(models.BPE(unk_token="<unk>" if unk else None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<s>", "</s>"] + (["<pad>"] if pad else []) + (["<unk>"] if unk else [])
    tok.train_from_iterator(
        texts,
        trainers.BpeTrainer(vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                            show_progress=False),
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    kw = {"bos_token": "<s>", "eos_token": "</s>"}
    if pad:
        kw["pad_token"] = "<pad>"
    if unk:
        kw["unk_token"] = "<unk>"
    return PreTrainedTokenizerFast(tokenizer_object=tok, **kw)


def make_model(path: Path, tok, seed: int = 0) -> str:
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, head_dim=32, max_position_embeddings=256, tie_word_embeddings=False,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )
    LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


# Small, fast settings; each test overrides what it checks.
FAST = {"learning_rate": 3e-3, "max_steps": 4, "batch_size": 8, "lr_scheduler": "constant", "logging_steps": 1,
        "save_steps": 100, "max_length": 64, "lora": {"r": 4, "alpha": 8, "dropout": 0.05}}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    base = make_model(root / "base", make_tokenizer())
    return {"root": root, "base": base}


@pytest.fixture(scope="module")
def m_plus(world):
    """A LoRA adapter trained by train_sft: the M_plus of stage II."""
    root = world["root"]
    out = root / "m_plus"
    train_sft(world["base"], make_records(64), str(out), {**FAST, "method": "lora", "max_steps": 8}, str(root / "w_mplus"))
    return str(out)


def weights(folder: str | Path) -> dict:
    folder = Path(folder)
    name = "adapter_model.safetensors" if (folder / "adapter_config.json").is_file() else "model.safetensors"
    return load_file(str(folder / name))


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class CrashAfterSave(TrainerCallback):
    """Simulates a job killed right after checkpoint ``step`` was written."""

    def __init__(self, step: int):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise RuntimeError("simulated crash")


# ----------------------------------------------------------------------------------------------
# Config and inputs


def test_resolve_cfg_defaults_and_errors():
    """Missing keys take config/schema.yaml's defaults; bad values fail naming the key."""
    cfg = resolve_cfg({"method": "full", "lora": {"r": 8}})
    for key in ("learning_rate", "max_length", "warmup_ratio", "save_steps", "epochs"):
        assert cfg[key] == schema_default(f"models.*.sft.{key}"), key
    assert cfg["lora"]["r"] == 8 and cfg["lora"]["alpha"] == schema_default("models.*.sft.lora.alpha")
    assert len(cfg["lora"]["target_modules"]) == 7
    assert resolve_cfg({}, "orpo")["beta"] == schema_default("experiments.*.stage2.methods.*.beta")
    for bad, key in (({"method": "qlora"}, "method"), ({"dtype": "fp16"}, "dtype"), ({"batch_size": 0}, "batch_size"),
                     ({"max_steps": 0}, "max_steps"), ({"warmup_ratio": 1.5}, "warmup_ratio"), ({"lr": 1}, "lr")):
        with pytest.raises(ConfigError, match=key):
            resolve_cfg(bad)
    with pytest.raises(ConfigError, match="not an option of trainer 'orpo'"):
        resolve_cfg({"loss_type": "ipo"}, "orpo")


def test_empty_and_malformed_inputs_fail_clearly(world, tmp_path, m_plus):
    with pytest.raises(InputError, match="empty"):
        train_sft(world["base"], [], str(tmp_path / "o"), FAST, str(tmp_path / "w"))
    with pytest.raises(InputError, match="empty"):
        train_preference("dpo", m_plus, [], str(tmp_path / "o"), FAST, str(tmp_path / "w"))
    with pytest.raises(InputError, match="SFT record 1: missing field 'completion'"):
        train_sft(world["base"], [make_records(1)[0], {"prompt": "x"}], str(tmp_path / "o"), FAST, str(tmp_path / "w"))
    with pytest.raises(InputError, match="'rejected' must be a string"):
        train_preference("dpo", m_plus, [{"prompt": "p", "chosen": "a", "rejected": None}], str(tmp_path / "o"), FAST,
                         str(tmp_path / "w"))
    with pytest.raises(InputError, match="dpo, orpo"):
        train_preference("kto", m_plus, make_pairs(2), str(tmp_path / "o"), FAST, str(tmp_path / "w"))
    with pytest.raises(InputError, match="adapter"):
        train_sft(m_plus, make_records(2), str(tmp_path / "o"), FAST, str(tmp_path / "w"))
    assert not (tmp_path / "o").exists()


def test_pad_token_is_distinct_from_eos():
    tok = make_tokenizer()
    assert ensure_pad_token(tok, allow_new_token=False) == "kept" and tok.pad_token == "<pad>"

    tok = make_tokenizer(pad=False)
    assert ensure_pad_token(tok, allow_new_token=True) == "unk"
    assert tok.pad_token_id == tok.unk_token_id != tok.eos_token_id

    tok = make_tokenizer(pad=False)
    tok.pad_token = tok.eos_token  # the common pad == eos setup
    assert ensure_pad_token(tok, allow_new_token=False) == "unk"

    tok = make_tokenizer(pad=False, unk=False)
    n = len(tok)
    assert ensure_pad_token(tok, allow_new_token=True) == "added"
    assert len(tok) == n + 1 and tok.pad_token_id == n

    tok = make_tokenizer(pad=False, unk=False)
    assert ensure_pad_token(tok, allow_new_token=False) == "eos"  # LoRA cannot carry a new embedding row


def test_full_sft_adds_pad_token_and_saves_resized_model(tmp_path):
    tok = make_tokenizer(pad=False, unk=False)
    base = make_model(tmp_path / "base", tok)
    out = tmp_path / "out"
    m = train_sft(base, make_records(16), str(out), {**FAST, "method": "full", "max_steps": 2}, str(tmp_path / "w"))
    assert m["pad_token"] == "added"
    model = AutoModelForCausalLM.from_pretrained(out)
    saved_tok = PreTrainedTokenizerFast.from_pretrained(out)
    assert model.get_input_embeddings().weight.shape[0] == len(saved_tok) == len(tok) + 1
    assert saved_tok.pad_token_id != saved_tok.eos_token_id
    assert model.config.pad_token_id == saved_tok.pad_token_id


# ----------------------------------------------------------------------------------------------
# SFT


def test_loss_mask_covers_completion_and_eos_only(world, tmp_path):
    records = make_records(8)
    trainer, info = build_sft_trainer(world["base"], records, {**FAST, "method": "full", "batch_size": 8}, str(tmp_path / "w"))
    assert trainer.args.max_length == FAST["max_length"]
    assert trainer.args.bf16 is False and trainer.args.gradient_checkpointing is False
    assert trainer.args.report_to in ([], "none", ["none"])
    tok = trainer.processing_class
    batch = next(iter(trainer.get_train_dataloader()))
    ids, labels, attn = batch["input_ids"], batch["labels"], batch["attention_mask"]
    by_prompt = {r["prompt"]: r for r in records}
    assert len(ids) == len(records)
    for row_ids, row_labels, row_attn in zip(ids, labels, attn):
        n = int(row_attn.sum())
        text = tok.decode(row_ids[:n], skip_special_tokens=True)
        prompt = text[: text.index("Answer:") + len("Answer:")]
        rec = by_prompt[prompt]
        n_prompt = len(tok(rec["prompt"])["input_ids"])  # BOS included, as at inference
        assert row_ids[0] == tok.bos_token_id
        assert (row_labels[:n_prompt] == -100).all(), "prompt tokens must not be trained"
        assert torch.equal(row_labels[n_prompt:n], row_ids[n_prompt:n]), "every completion token is trained"
        assert row_ids[n - 1] == tok.eos_token_id and row_labels[n - 1] == tok.eos_token_id, "EOS is trained"
        assert (row_labels[n:] == -100).all() and (row_attn[n:] == 0).all(), "padding is not trained"
        assert tok.decode(row_ids[n_prompt:n - 1]) == rec["completion"]


def test_max_length_truncates_and_reports(world, tmp_path):
    records = make_records(4)
    records[0] = {"prompt": records[0]["prompt"], "completion": " 1 + 1 = 2." * 40 + " #### 2"}
    trainer, info = build_sft_trainer(world["base"], records, {**FAST, "max_length": 48}, str(tmp_path / "w"))
    assert info["truncated"] == 1
    assert max(len(x) for x in trainer.train_dataset["input_ids"]) == 48
    # Every prompt alone is longer than the schema's smallest max_length (16).
    long = [{**r, "prompt": r["prompt"] * 4} for r in records]
    with pytest.raises(InputError, match="max_length=16"):
        build_sft_trainer(world["base"], long, {**FAST, "max_length": 16}, str(tmp_path / "w2"))
    pairs = [{**p, "prompt": p["prompt"] * 4} for p in make_pairs(4)]
    with pytest.raises(InputError, match="max_length=16"):
        build_preference_trainer("dpo", world["base"], pairs, {**FAST, "max_length": 16}, str(tmp_path / "w3"))


def test_full_sft_learns_to_stop(world, tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    m = train_sft(world["base"], make_records(256), str(out),
                  {**FAST, "method": "full", "max_steps": 60, "batch_size": 16, "logging_steps": 10}, str(work))
    assert m["steps"] == 60 and m["resumed_from"] is None and m["final_loss"] < 1.5
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= {p.name for p in out.iterdir()}
    assert not (tmp_path / ".out.partial").exists() and not (work / "checkpoints").exists()

    model, tok = load_for_inference(str(out))
    assert tok.padding_side == "left" and tok.pad_token_id != tok.eos_token_id
    prompts = [f"Question: What is {a} plus {b}?\nAnswer:" for a, b in [(3, 4), (12, 9), (0, 17), (20, 20)]]
    enc = tok(prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        gen = model.generate(**enc, max_new_tokens=40, do_sample=False)
    for row in gen[:, enc["input_ids"].shape[1]:].tolist():
        assert tok.eos_token_id in row, f"did not stop: {tok.decode(row)!r}"
        assert "####" in tok.decode(row[: row.index(tok.eos_token_id)])


def test_sft_is_deterministic(world, tmp_path):
    recs = make_records(32)
    for method in ("lora", "full"):
        cfg = {**FAST, "method": method, "max_steps": 4}
        runs = []
        for i, seed in enumerate((0, 0, 1)):
            out = tmp_path / f"{method}{i}"
            train_sft(world["base"], recs, str(out), cfg, str(tmp_path / f"w{method}{i}"), seed=seed)
            runs.append(weights(out))
        assert same_weights(runs[0], runs[1]), f"{method}: same seed, different weights"
        assert not same_weights(runs[0], runs[2]), f"{method}: a different seed changed nothing"


def test_sft_resumes_from_last_checkpoint(world, tmp_path):
    recs = make_records(48)
    cfg = {**FAST, "method": "full", "max_steps": 8, "save_steps": 2}
    ref = train_sft(world["base"], recs, str(tmp_path / "ref"), cfg, str(tmp_path / "wref"))
    assert ref["resumed_from"] is None

    out, work = tmp_path / "out", tmp_path / "work"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_sft(world["base"], recs, str(out), cfg, str(work), callbacks=[CrashAfterSave(4)])
    assert not out.exists()
    assert last_complete_checkpoint(work / "checkpoints").endswith("checkpoint-4")
    # A checkpoint that was being written when the job died must be ignored.
    (work / "checkpoints" / "checkpoint-6").mkdir()
    (work / "checkpoints" / "checkpoint-6" / "model.safetensors").write_bytes(b"partial")

    m = train_sft(world["base"], recs, str(out), cfg, str(work))
    assert m["resumed_from"] and Path(m["resumed_from"]).name == "checkpoint-4"
    assert m["steps"] == 8
    assert same_weights(weights(out), weights(tmp_path / "ref")), "resumed run differs from an uninterrupted one"


def test_stale_checkpoints_are_not_resumed(world, tmp_path):
    cfg = {**FAST, "method": "full", "max_steps": 4, "save_steps": 2}
    work = tmp_path / "work"
    with pytest.raises(RuntimeError):
        train_sft(world["base"], make_records(16), str(tmp_path / "o"), cfg, str(work), callbacks=[CrashAfterSave(2)])
    assert last_complete_checkpoint(work / "checkpoints")
    m = train_sft(world["base"], make_records(16, seed=9), str(tmp_path / "o"), cfg, str(work))
    assert m["resumed_from"] is None


def test_lora_output_is_an_adapter_that_loads_merged(world, m_plus, tmp_path):
    folder = Path(m_plus)
    meta = json.loads((folder / "adapter_config.json").read_text())
    assert meta["base_model_name_or_path"] == world["base"]
    assert (folder / "tokenizer.json").is_file() and not (folder / "model.safetensors").exists()

    merged, tok = load_for_inference(m_plus)
    assert type(merged).__name__ == "LlamaForCausalLM"
    from peft import PeftModel

    unmerged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(world["base"]), m_plus).eval()
    base = AutoModelForCausalLM.from_pretrained(world["base"]).eval()
    x = tok(["Question: What is 2 plus 3?\nAnswer: 2 + 3 = 5"], return_tensors="pt")
    with torch.no_grad():
        a, b, c = merged(**x).logits, unmerged(**x).logits, base(**x).logits
    assert torch.allclose(a, b, atol=1e-4)
    assert not torch.allclose(a, c, atol=1e-3), "the adapter changed nothing"


# ----------------------------------------------------------------------------------------------
# DPO / ORPO


def _completion_logps(model, batch) -> tuple:
    """Summed log-probabilities of the completion tokens, computed independently of TRL."""
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    logp = torch.log_softmax(logits.float(), -1).gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
    return (logp * batch["completion_mask"][:, 1:]).sum(1).chunk(2)


def test_dpo_reference_is_m_plus_not_base(world, m_plus, tmp_path):
    trainer, info = build_preference_trainer(
        "dpo", m_plus, make_pairs(8), {**FAST, "beta": 0.1, "learning_rate": 1e-2, "max_steps": 3}, str(tmp_path / "w")
    )
    assert info["method"] == "lora" and trainer.ref_model is None
    batch = next(iter(trainer.get_train_dataloader()))
    m_plus_model, _ = load_for_inference(m_plus)
    base_model = AutoModelForCausalLM.from_pretrained(world["base"]).eval()
    expect = _completion_logps(m_plus_model, batch)
    base_logps = _completion_logps(base_model, batch)

    trainer.model.eval()
    ref_before = trainer.compute_ref_log_probs(trainer.model, batch)
    for got, want, base in zip(ref_before, expect, base_logps):
        assert torch.allclose(got, want, atol=1e-3), "DPO reference is not M_plus"
        assert not torch.allclose(got, base, atol=1e-2), "DPO reference equals the bare base model"

    trainer.train()
    trainer.model.eval()
    ref_after = trainer.compute_ref_log_probs(trainer.model, batch)
    for before, after in zip(ref_before, ref_after):
        assert torch.allclose(before, after, atol=1e-5), "the reference moved during training"
    with torch.no_grad():
        policy = _completion_logps(trainer.model, batch)
    assert not torch.allclose(policy[0], expect[0], atol=1e-3), "the policy did not train"


def test_dpo_continues_the_adapter_and_resumes(world, m_plus, tmp_path):
    pairs = make_pairs(24)
    cfg = {**FAST, "beta": 0.1, "learning_rate": 1e-2, "max_steps": 4, "save_steps": 2}
    ref_out = tmp_path / "ref"
    train_preference("dpo", m_plus, pairs, str(ref_out), cfg, str(tmp_path / "wref"))
    meta = json.loads((ref_out / "adapter_config.json").read_text())
    assert meta["base_model_name_or_path"] == world["base"]
    assert not any(p.is_dir() for p in ref_out.iterdir()), "the frozen 'ref' adapter must not be saved"
    start, end = weights(m_plus), weights(ref_out)
    assert start.keys() == end.keys() and not same_weights(start, end)

    out, work = tmp_path / "out", tmp_path / "work"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_preference("dpo", m_plus, pairs, str(out), cfg, str(work), callbacks=[CrashAfterSave(2)])
    m = train_preference("dpo", m_plus, pairs, str(out), cfg, str(work))
    assert Path(m["resumed_from"]).name == "checkpoint-2" and m["steps"] == 4
    assert same_weights(weights(out), end), "resumed DPO differs from an uninterrupted run"


def test_dpo_full_model_reference_is_m_plus(world, tmp_path):
    m_plus_full = tmp_path / "mplus_full"
    train_sft(world["base"], make_records(16), str(m_plus_full), {**FAST, "method": "full", "max_steps": 2}, str(tmp_path / "w0"))
    cfg = {**FAST, "method": "full", "max_steps": 2}
    trainer, info = build_preference_trainer("dpo", str(m_plus_full), make_pairs(8), cfg, str(tmp_path / "w1"))
    assert info["method"] == "full" and trainer.ref_model is not None
    ref_sd = trainer.ref_model.state_dict()
    on_disk = weights(m_plus_full)
    assert all(torch.equal(ref_sd[k], v) for k, v in on_disk.items())

    out = tmp_path / "pro"
    m = train_preference("dpo", str(m_plus_full), make_pairs(8), str(out), cfg, str(tmp_path / "w2"))
    assert m["steps"] == 2 and (out / "model.safetensors").is_file()
    assert not same_weights(weights(out), on_disk)


def test_orpo_trains_the_adapter(world, m_plus, tmp_path):
    out = tmp_path / "orpo"
    m = train_preference("orpo", m_plus, make_pairs(16), str(out), {**FAST, "beta": 0.1, "max_steps": 2}, str(tmp_path / "w"))
    assert m["kind"] == "orpo" and m["method"] == "lora" and m["steps"] == 2 and m["final_loss"] > 0
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == world["base"]
    assert not same_weights(weights(out), weights(m_plus))


def test_orpo_full_model(world, tmp_path):
    out = tmp_path / "orpo_full"
    m = train_preference("orpo", world["base"], make_pairs(16), str(out), {**FAST, "method": "full", "max_steps": 2},
                         str(tmp_path / "w"))
    assert m["method"] == "full" and (out / "model.safetensors").is_file()
    assert not same_weights(weights(out), weights(world["base"]))


def test_trainer_options_reach_the_trl_config(world, m_plus, tmp_path):
    """RPO: DPO with TRL's NLL loss on the chosen answer beside the sigmoid loss, weights as given."""
    cfg = {**FAST, "loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 0.5], "beta": 0.2}
    trainer, info = build_preference_trainer("dpo", m_plus, make_pairs(8), cfg, str(tmp_path / "w"))
    assert trainer.args.loss_type == ["sigmoid", "sft"] and trainer.args.loss_weights == [1.0, 0.5]
    assert trainer.args.beta == 0.2 and info["options"]["loss_weights"] == [1.0, 0.5]


def test_simpo_through_cpo_trains_the_adapter(world, m_plus, tmp_path):
    out = tmp_path / "simpo"
    cfg = {**FAST, "loss_type": "simpo", "cpo_alpha": 0.0, "beta": 2.0, "simpo_gamma": 1.0, "max_steps": 2}
    m = train_preference("cpo", m_plus, make_pairs(16), str(out), cfg, str(tmp_path / "w"))
    assert m["kind"] == "cpo" and m["method"] == "lora" and m["steps"] == 2
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == world["base"]
    assert not same_weights(weights(out), weights(m_plus))


def test_bfloat16_training_on_cpu(world, tmp_path):
    out = tmp_path / "bf16"
    m = train_sft(world["base"], make_records(16), str(out), {**FAST, "method": "full", "max_steps": 2, "dtype": "bfloat16"},
                  str(tmp_path / "w"))
    assert m["steps"] == 2 and math.isfinite(m["final_loss"])
    assert all(t.dtype == torch.bfloat16 for t in weights(out).values())
    model, _ = load_for_inference(str(out), dtype="bfloat16")
    assert next(model.parameters()).dtype == torch.bfloat16


# ----------------------------------------------------------------------------------------------
# Several processes (DDP on CPU through torchrun, the path `accelerate launch` takes on GPUs)

_DDP_SCRIPT = """
import json, os, sys
import torch
torch.set_num_threads(1)
from transformers import TrainerCallback
from w2s.training import train_preference

class Crash(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        if state.global_step == 2:
            raise SystemExit(3)

base, m_plus, out, work, result, crash = sys.argv[1:7]
pairs = json.loads(open(os.path.join(os.path.dirname(result), "pairs.json")).read())
cfg = {"learning_rate": 1e-2, "max_steps": 4, "batch_size": 4, "save_steps": 2, "logging_steps": 1,
       "lr_scheduler": "constant", "max_length": 64, "beta": 0.1}
m = train_preference("dpo", m_plus, pairs, out, cfg, work, callbacks=[Crash()] if crash == "1" else None)
if os.environ.get("RANK") == "0":
    open(result, "w").write(json.dumps(m))
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_dpo_crash_and_resume(world, m_plus, tmp_path):
    import os
    import subprocess
    import sys

    script = tmp_path / "ddp_dpo.py"
    script.write_text(_DDP_SCRIPT)
    (tmp_path / "pairs.json").write_text(json.dumps(make_pairs(32)))
    out, work, result = tmp_path / "out", tmp_path / "work", tmp_path / "result.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def launch(crash: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(_free_port()), str(script), world["base"], m_plus, str(out), str(work), str(result), crash]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)

    first = launch("1")
    assert first.returncode != 0 and not out.exists()
    assert Path(last_complete_checkpoint(work / "checkpoints")).name == "checkpoint-2"
    second = launch("0")
    assert second.returncode == 0, second.stderr[-3000:]
    m = json.loads(result.read_text())
    assert m["world_size"] == 2 and m["steps"] == 4 and Path(m["resumed_from"]).name == "checkpoint-2"
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == world["base"]
    assert not same_weights(weights(out), weights(m_plus))
    assert not (tmp_path / ".out.partial").exists()


def test_accelerate_configs_parse():
    from accelerate.commands.config.config_args import load_config_from_file

    folder = Path(__file__).resolve().parents[1] / "slurm" / "accelerate"
    zero3 = load_config_from_file(str(folder / "zero3.yaml"))
    assert zero3.distributed_type.value == "DEEPSPEED" and zero3.mixed_precision == "bf16"
    assert zero3.deepspeed_config["zero_stage"] == 3 and zero3.deepspeed_config["zero3_save_16bit_model"] is True
    fsdp = load_config_from_file(str(folder / "fsdp.yaml"))
    assert fsdp.distributed_type.value == "FSDP" and fsdp.mixed_precision == "bf16"
    assert fsdp.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    # Activation checkpointing comes from the training config; both on at once fails.
    assert fsdp.fsdp_config["fsdp_activation_checkpointing"] is False
