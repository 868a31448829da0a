"""Hugging Face model cards for the models the workflow trains.

``write_model_card(model_dir, metrics_paths, spec)`` writes ``<model_dir>/README.md``: the Hub's
YAML metadata (``base_model`` where the root model is a Hub id, ``library_name`` ``peft`` for an
adapter folder and ``transformers`` for full weights, ``datasets`` (the Hub datasets among the
experiment's sources), ``tags``, ``license`` and a ``model-index`` with one accuracy per test set,
copied from the evaluate rule's metrics files and naming the grader), then a short body: what the
model is in the method, how it was trained (from the folder's ``w2s_training.json``, see
``w2s.training``), its results, and how to load it. ``huggingface_hub.ModelCard.load`` parses it.

``spec`` is what the rule passes (rules/release.smk, ``card_spec``)::

    model_name      a name for the model-index (e.g. "toy/toy-weak/iter2-hybrid")
    experiment      the experiment's name
    row             the main table's row of the model: {key, label, stage, iteration}
    roles           {floor, ceiling, full_weak, m_plus}: which row keys play these roles
    base_model      the configured path of the root model (hub id, local folder, or "toy")
    weak, strong    {name, path} of the experiment's weak model (the column) and strong model
    task            the experiment's task (gsm8k | math | olympicarena)
    train_source    the experiment's dataset: {name, source} (source as in the config)
    test_sets       {name: {task, source}}
    seed, grading_mode, license
    merged_from     (merged folders only) the adapter folder the weights were merged from

Nothing in a card depends on time: a rerun on the same inputs writes the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from .io import InputError, atomic_path, read_json
from .models import MODEL_CARD, TRAINING_RECORD, is_adapter

PAPER = "Weak-to-Strong Reasoning (Yang, Ma, Liu; Findings of EMNLP 2024, arXiv:2407.13647)"
PAPER_URL = "https://arxiv.org/abs/2407.13647"
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+")
_STAGE_TAGS = {"baselines": "baseline", "stage I": "stage-i", "stage II": "stage-ii", "ceiling": "ceiling"}
_TASK_NAMES = {"gsm8k": "grade-school math word problems", "math": "competition mathematics",
               "olympicarena": "olympiad-level reasoning"}
_SFT_DATA = {
    "weak": "with the weak model's answers as labels (weak-ft)",
    "icl": "with the answers of the strong model prompted with weak demonstrations as labels (icl-ft)",
    "hybrid": "with both answers of each kept question as labels (hybrid-ft)",
}


def hub_id(path: str | None) -> str | None:
    """``path`` when it names a Hugging Face Hub repository (owner/name, not a local folder)."""
    if not path or Path(path).exists() or not _HUB_ID.fullmatch(path):
        return None
    return path


def hub_dataset(source: Mapping | str | None) -> dict | None:
    """The Hub dataset of one split's source (``hf://owner/name``), else None (toy, file, URL)."""
    if not isinstance(source, Mapping) or not str(source.get("path", "")).startswith("hf://"):
        return None
    return {"id": source["path"][len("hf://"):], "config": source.get("config"), "split": source.get("split")}


def role_text(spec: Mapping) -> str:
    """One paragraph: what this model is in the method."""
    row, roles = spec["row"], spec["roles"]
    key, weak, strong = row["key"], spec["weak"]["name"], spec["strong"]["name"]
    if key == roles["floor"]:
        return (f"The weak model of the experiment: `{weak}` fine-tuned on the train_1 gold solutions. In the "
                "method it answers the train_2 questions zero-shot (D_weak) and its answers are the "
                "in-context demonstrations of the strong model; evaluated zero-shot it is the **weak floor**.")
    if key == roles["ceiling"]:
        return (f"The strong model `{strong}` fine-tuned on the train_2 gold solutions: the **strong ceiling**, "
                "the accuracy that weak supervision tries to recover.")
    if key == roles["full_weak"]:
        return (f"The strong model `{strong}` fine-tuned on all of `{weak}`'s zero-shot answers to the train_2 "
                "questions, unfiltered: the **full weak fine-tuning** baseline.")
    if row["stage"] == "stage I":
        i = row.get("iteration") or 1
        variant = key.rsplit("-", 1)[-1]
        answers = ("the weak model's zero-shot answers and the strong model's answers with weak demonstrations"
                   if i == 1 else f"the answers of iteration {i - 1}'s weak-ft and icl-ft models")
        text = (f"Stage I, iteration {i}: the strong model `{strong}` fine-tuned on the train_2 questions where "
                f"{answers} agree on the final answer (final-answer consistency), "
                f"{_SFT_DATA.get(variant, f'({variant})')}; the weak supervisor is `{weak}`.")
        if key == roles["m_plus"]:
            text += " This is **M_plus**, the starting point of stage II."
        return text
    if row["stage"] == "stage II":
        return (f"Stage II: {row['label']} of M_plus (the last iteration's hybrid-ft model, strong model "
                f"`{strong}`, weak supervisor `{weak}`) on preference pairs mined from M_plus's own sampled "
                "answers to the train_2 questions by the confidence of their majority vote.")
    return f"{row['label']} ({row['stage']}) of the strong model `{strong}`, weak supervisor `{weak}`."


def _eval_results(metrics: Sequence[Mapping], spec: Mapping, model_dir: str):
    from huggingface_hub import EvalResult

    out = []
    for m in metrics:
        test = spec["test_sets"].get(m["testset"])
        if test is None:
            raise InputError(f"{model_dir}: metrics for test set {m['testset']!r}, which the card's spec does not list.")
        hub = hub_dataset(test.get("source"))
        out.append(EvalResult(
            task_type="text-generation", task_name=f"{_TASK_NAMES.get(test['task'], test['task'])} (final answer)",
            dataset_type=hub["id"] if hub else m["testset"], dataset_name=m["testset"],
            dataset_config=hub["config"] if hub else None, dataset_split=(hub or {}).get("split") or "test",
            metric_type="accuracy", metric_value=m["accuracy"], metric_config=m["grader"],
            metric_name=f"accuracy (fraction correct; grader {m['grader']})",
        ))
    return out


def _hub_datasets(spec: Mapping) -> list[str]:
    """The Hub datasets among the experiment's split sources (training splits and test sets)."""
    train = spec["train_source"]["source"]
    splits = list(train.values()) if isinstance(train, Mapping) else []
    splits += [t.get("source") for t in spec["test_sets"].values()]
    return sorted({d["id"] for d in map(hub_dataset, splits) if d})


def card_metadata(model_dir: str, record: Mapping, metrics: Sequence[Mapping], spec: Mapping):
    """The Hub metadata (``huggingface_hub.ModelCardData``) of one model folder."""
    from huggingface_hub import ModelCardData

    adapter = is_adapter(model_dir)
    base = hub_id(spec["base_model"])
    datasets = _hub_datasets(spec)
    tags = ["weak-to-strong", "weak-to-strong-reasoning", _STAGE_TAGS.get(spec["row"]["stage"], "other"),
            spec["row"]["key"], record["kind"], spec["task"], "trl"] + (["lora"] if adapter else [])
    if spec.get("merged_from"):
        tags.append("merged-lora")
    extra = {"base_model_relation": "adapter" if adapter else "finetune"} if base else {}
    return ModelCardData(
        base_model=base, library_name="peft" if adapter else "transformers", datasets=datasets or None,
        license=spec["license"], tags=tags, pipeline_tag="text-generation", model_name=spec["model_name"],
        eval_results=_eval_results(metrics, spec, model_dir), **extra,
    )


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _weights_text(record: Mapping, spec: Mapping, adapter: bool) -> str:
    if spec.get("merged_from"):
        return f"full weights: the LoRA adapter `{spec['merged_from']}` merged into its base (PEFT `merge_and_unload`)"
    return "LoRA adapter" if adapter else "full weights"


def _training_section(record: Mapping, spec: Mapping, adapter: bool) -> list[str]:
    cfg = record.get("config", {})
    kind = {"sft": "supervised fine-tuning (loss on the completion only)", "dpo": "DPO", "orpo": "ORPO"}
    lines = ["## Training", "", "| | |", "|---|---|",
             f"| objective | {kind.get(record['kind'], record['kind'])} |",
             f"| weights | {_weights_text(record, spec, adapter)} |",
             f"| started from | `{record['start_model']}` |"]
    if record.get("adapter_base"):
        lines.append(f"| adapter applies to | `{record['adapter_base']}` |")
    lines += [f"| training rows | {record['records']} (sha256 of the rows `{record['data_sha256'][:16]}...`) |",
              f"| steps, epochs | {record['steps']}, {_fmt(record['epochs'])} |",
              f"| final loss, mean loss | {_fmt(record['final_loss'])}, {_fmt(record['mean_loss'])} |",
              f"| seed | {record['seed']} |"]
    for key in sorted(cfg):
        if key != "accelerate_config" and cfg[key] is not None and not (key == "lora" and record["method"] != "lora"):
            lines.append(f"| {key} | `{_fmt(cfg[key])}` |")
    lines += ["", f"The whole record is `{TRAINING_RECORD}` in this folder."]
    return lines


def _results_section(metrics: Sequence[Mapping], spec: Mapping, metrics_paths: Sequence[str]) -> list[str]:
    lines = ["## Results", "", "| test set | accuracy | correct / n | grader |", "|---|---|---|---|"]
    for m in metrics:
        lines.append(f"| {m['testset']} | {100 * m['accuracy']:.2f}% | {m['correct']} / {m['n']} | `{m['grader']}` |")
    lines += ["", "Greedy decoding, zero-shot, graded against the test set's gold answers; the numbers are "
              "those of the workflow's metrics files (" + ", ".join(f"`{p}`" for p in metrics_paths) + "). "
              f"Grading mode `{spec['grading_mode']}` is how stage I's filter and stage II's vote compared answers."]
    return lines


def _loading_section(model_dir: str, adapter: bool, base: str | None, task: str) -> list[str]:
    cls = "AutoPeftModelForCausalLM" if adapter else "AutoModelForCausalLM"
    where = "this folder (or its Hub repository id once uploaded)"
    imports = ([f"from peft import {cls}", "from transformers import AutoTokenizer"] if adapter
               else [f"from transformers import {cls}, AutoTokenizer"])
    lines = ["## How to load", "", "```python", *imports,
             "", f'path = "{model_dir}"  # {where}', f"model = {cls}.from_pretrained(path)",
             "tokenizer = AutoTokenizer.from_pretrained(path)",
             'prompt = "Question: Natalia sold 48 clips in April and half as many in May. How many in all?\\nAnswer:"',
             "out = model.generate(**tokenizer(prompt, return_tensors=\"pt\"), max_new_tokens=256)",
             "print(tokenizer.decode(out[0], skip_special_tokens=True))", "```", ""]
    if adapter:
        lines.append(
            "A LoRA adapter: PEFT loads the base model named in `adapter_config.json` "
            f"(`base_model_name_or_path`{f', `{base}`' if base else ''}) and applies the adapter. For serving "
            "with merged weights: `snakemake merge` (the workflow's optional target) writes them.")
    else:
        lines.append("Full weights saved with `save_pretrained`, with the tokenizer.")
    key = {"gsm8k": "`#### <answer>`", "math": "`The answer is: <answer>`",
           "olympicarena": "`The final answer is $\\boxed{...}$`"}.get(task, "its answer key")
    lines += ["", "The model was trained and evaluated on the prompt `Question: {question}\\nAnswer:` (OlympicArena: "
              f"the dataset's own instruction in front of it) and ends its solution with {key}."]
    return lines


def render_card(model_dir: str, record: Mapping, metrics: Sequence[Mapping], spec: Mapping,
                metrics_paths: Sequence[str] = (), shown_path: str | None = None) -> str:
    """The card's text: YAML metadata between ``---`` lines, then the Markdown body. ``shown_path``:
    the folder named in the loading example (default ``model_dir``)."""
    data = card_metadata(model_dir, record, metrics, spec)
    adapter = is_adapter(model_dir)
    row = spec["row"]
    base = hub_id(spec["base_model"])
    body = [f"# {spec['model_name']}", "",
            f"**{row['label']}** ({row['stage']}) of experiment `{spec['experiment']}`, trained by a Snakemake "
            f"workflow that reproduces [{PAPER}]({PAPER_URL}).", "", role_text(spec), ""]
    body += _results_section(metrics, spec, metrics_paths) + [""]
    body += _training_section(record, spec, adapter) + [""]
    body += _loading_section(shown_path or model_dir, adapter, base, spec["task"]) + [""]
    body += ["## Provenance and license", "",
             f"Root model: `{spec['base_model']}`" + ("" if base else " (not a Hub repository: set `base_model` "
                                                     "in the metadata above to its Hub id before uploading)") + "; "
             f"training data: dataset `{spec['train_source']['name']}` of the experiment; seed {spec['seed']}. "
             f"License: `{spec['license']}` (the config's `release.license`); the base models' licenses apply "
             "to these weights: set it to theirs before sharing.", ""]
    return f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body)


def read_metrics(paths: Sequence[str], spec: Mapping) -> list[dict]:
    """The evaluate rule's metrics files of this model, checked to belong to it (method and owner)."""
    out = []
    for path in paths:
        m = read_json(path)
        for key in ("testset", "accuracy", "n", "correct", "grader"):
            if key not in m:
                raise InputError(f"{path}: no '{key}' in this metrics file; rerun the evaluate rule that writes it.")
        if m.get("method") not in (None, spec["row"]["key"]):
            raise InputError(f"{path}: metrics of method {m.get('method')!r}, not of {spec['row']['key']!r} "
                             "(the card rule's inputs are miswired).")
        out.append(m)
    return sorted(out, key=lambda m: m["testset"])


def write_model_card(model_dir: str, metrics_paths: Sequence[str], spec: Mapping,
                     card_path: str | None = None, shown_path: str | None = None) -> Path:
    """Write ``<model_dir>/README.md`` (or ``card_path``) atomically; return its path."""
    record_path = Path(model_dir) / TRAINING_RECORD
    if not record_path.is_file():
        raise InputError(f"{model_dir}: no {TRAINING_RECORD}; this is not a finished training folder "
                         "(rerun the rule that trains it).")
    record = read_json(record_path)
    metrics = read_metrics(list(metrics_paths), spec)
    text = render_card(model_dir, record, metrics, spec, list(metrics_paths), shown_path)
    out = Path(card_path) if card_path else Path(model_dir) / MODEL_CARD
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return out


__all__ = ["card_metadata", "hub_dataset", "hub_id", "read_metrics", "render_card", "role_text", "write_model_card"]
