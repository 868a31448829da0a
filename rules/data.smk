# The toy world (synthetic data, tokenizer, tiny base models) and normalised splits per dataset.


rule build_toy_data:
    output:
        multiext(f"{RESULTS}/toy_world/data/", "train_1.jsonl", "train_2.jsonl", "test.jsonl"),
    params:
        toy=slice_of("toy", "data"),
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/toy_world/build_toy_data.log",
    script:
        "../scripts/build_toy_data.py"


rule train_toy_tokenizer:
    input:
        rules.build_toy_data.output,
    output:
        directory(f"{RESULTS}/toy_world/tokenizer"),
    params:
        toy=slice_of("toy", "tokenizer"),
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/toy_world/train_toy_tokenizer.log",
    script:
        "../scripts/train_toy_tokenizer.py"


rule pretrain_toy_model:
    input:
        data=rules.build_toy_data.output,
        tokenizer=rules.train_toy_tokenizer.output,
    output:
        directory(f"{RESULTS}/toy_world/models/{{toymodel}}"),
    params:
        arch=lambda wc: canonical(model_cfg(wc.toymodel)["toy"]),
        seed=config["seed"],
    threads: job_threads("train", lambda wc: wc.toymodel)
    resources:
        **job_resources("train", lambda wc: wc.toymodel),
    log:
        f"{RESULTS}/logs/toy_world/pretrain_{{toymodel}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/toy_world/pretrain_{{toymodel}}.tsv"
    script:
        "../scripts/pretrain_toy_model.py"


def dataset_source_input(wc):
    """The toy dataset is made by a rule; a real source is read (and downloaded) by the job."""
    if dataset_cfg(wc.dataset)["source"] == "toy":
        return rules.build_toy_data.output
    return []


def dataset_source(*splits):
    """Only the splits a job reads go into its params: a new test source leaves train_1 alone."""

    def get(wc):
        source = dataset_cfg(wc.dataset)["source"]
        if source == "toy":
            source = {s: {"path": f"{RESULTS}/toy_world/data/{s}.jsonl"} for s in splits}
        return canonical({s: source[s] for s in splits if s in source})

    return get


rule prepare_dataset:
    input:
        dataset_source_input,
    output:
        train_2=f"{RESULTS}/data/{{dataset}}/train_2.jsonl",
        gold=f"{RESULTS}/data/{{dataset}}/train_2.gold.jsonl",
        test=f"{RESULTS}/data/{{dataset}}/test.jsonl",
    params:
        task=lambda wc: dataset_cfg(wc.dataset)["task"],
        source=dataset_source("train_2", "test"),
    log:
        f"{RESULTS}/logs/data/{{dataset}}/prepare_dataset.log",
    script:
        "../scripts/prepare_dataset.py"


rule prepare_train_1:
    input:
        dataset_source_input,
    output:
        f"{RESULTS}/data/{{dataset}}/train_1.jsonl",
    params:
        task=lambda wc: dataset_cfg(wc.dataset)["task"],
        source=dataset_source("train_1"),
    log:
        f"{RESULTS}/logs/data/{{dataset}}/prepare_train_1.log",
    script:
        "../scripts/prepare_dataset.py"
