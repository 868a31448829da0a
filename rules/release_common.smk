# Input functions, params and target lists of the release rules (rules/release.smk); the Snakefile's
# `rule all` lists model_cards().


wildcard_constraints:
    model_dir=r"weak_model|models/[^/]+",


def model_folder(exp, seed, owner, model_dir):
    """The folder of a trained model: the weak model's SFT, or a strong model of models/."""
    if model_dir == "weak_model":
        return weak_model_path(exp, seed, owner)
    return trained_model_path(exp, seed, owner, model_dir.split("/", 1)[1])


def model_method(exp, model_dir):
    """The main table's row (method key) of a trained model: the weak model is the weak floor."""
    if model_dir == "weak_model":
        return get_table_roles(exp)["floor"]
    return model_dir.split("/", 1)[1]


def trained_model_dirs(exp):
    """(owner, model_dir) of every model an experiment trains."""
    cfg = config["experiments"][exp]
    out = []
    for weak in cfg["weak"]:
        if model_cfg(weak)["finetune"]:
            out.append((weak, "weak_model"))
        out += [
            (weak, f"models/{m}")
            for m in methods(exp)
            if m not in ("weak_floor", "weak_icl")
        ]
    if has_train_2_gold(exp):
        out.append(("ceiling", "models/ceiling"))
    return out


def model_cards():
    """Every trained model's card, every seed (part of `rule all`)."""
    return [
        f"{model_folder(exp, seed, owner, model_dir)}/{MODEL_CARD}"
        for exp in config["experiments"]
        for seed in SEEDS
        for owner, model_dir in trained_model_dirs(exp)
    ]


def saves_adapter(exp, owner, model_dir):
    """Whether training writes a LoRA adapter (w2s.training): SFT with method lora; DPO / ORPO
    when M_plus is an adapter (it keeps training) or with method lora."""
    cfg = config["experiments"][exp]
    if model_dir == "weak_model":
        return model_cfg(owner)["sft"]["method"] == "lora"
    key = model_dir.split("/", 1)[1]
    strong_lora = model_cfg(cfg["strong"])["sft"]["method"] == "lora"
    if key in cfg["stage2"]["methods"]:
        return strong_lora or cfg["stage2"]["methods"][key]["method"] == "lora"
    return strong_lora


def merge_targets():
    """Merged full weights of every LoRA model (`snakemake merge`); full models need none."""
    return [
        f"{run_dir(exp, seed, owner)}/merged/{model_dir}"
        for exp in config["experiments"]
        for seed in SEEDS
        for owner, model_dir in trained_model_dirs(exp)
        if saves_adapter(exp, owner, model_dir)
    ]


def card_record(wc):
    return training_record(model_folder(wc.exp, wc.seed, wc.owner, wc.model_dir))


def card_metrics(wc):
    """The evaluate rule's metrics files of this model, one per test set."""
    return expand(
        rules.evaluate.output.metrics,
        exp=wc.exp,
        seed=wc.seed,
        owner=wc.owner,
        method=model_method(wc.exp, wc.model_dir),
        testset=test_sets(wc.exp),
    )


def card_spec(wc):
    """What w2s.modelcard needs besides the folder and the metrics (see its docstring)."""
    cfg = exp_cfg(wc)
    rows = {"methods": get_table_methods(wc.exp), "roles": get_table_roles(wc.exp)}
    key = model_method(wc.exp, wc.model_dir)
    root = wc.owner if wc.model_dir == "weak_model" else cfg["strong"]
    weak = cfg["weak"][0] if wc.owner == "ceiling" else wc.owner
    return canonical(
        {
            "model_name": f"{wc.exp}/seed{wc.seed}/{wc.owner}/{wc.model_dir.split('/')[-1]}",
            "experiment": wc.exp,
            "row": next(r for r in rows["methods"] if r["key"] == key),
            "roles": rows["roles"],
            "base_model": model_cfg(root)["path"],
            "weak": {"name": weak, "path": model_cfg(weak)["path"]},
            "strong": {"name": cfg["strong"], "path": model_cfg(cfg["strong"])["path"]},
            "task": dataset_cfg(cfg["dataset"])["task"],
            "train_source": {
                "name": cfg["dataset"],
                "source": dataset_cfg(cfg["dataset"])["source"],
            },
            "test_sets": {
                t: {
                    "task": dataset_cfg(t)["task"],
                    "source": (
                        dataset_cfg(t)["source"]
                        if dataset_cfg(t)["source"] == "toy"
                        else dataset_cfg(t)["source"]["test"]
                    ),
                }
                for t in cfg["test_sets"]
            },
            "seed": run_seed(wc),
            "grading_mode": config["grading"]["mode"],
            "license": config["release"]["license"],
        }
    )


def merge_resources_model(wc):
    return wc.owner if wc.model_dir == "weak_model" else strong_name(wc)


MERGE_JOB = model_job("train", merge_resources_model)
