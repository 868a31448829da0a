# The toy world (synthetic data, tokenizer, tiny base models) and normalised splits per dataset.


rule build_toy_data:
    output:
        multiext(
            f"{RESULTS}/toy_world/data/",
            "train_1.jsonl",
            "train_2.jsonl",
            "test.jsonl",
        ),
    log:
        f"{RESULTS}/logs/toy_world/build_toy_data.log",
    conda:
        "../envs/analysis.yaml"
    params:
        toy=slice_of("toy", "data"),
        seed=config["seed"],
    script:
        "../scripts/build_toy_data.py"


rule train_toy_tokenizer:
    input:
        rules.build_toy_data.output,
    output:
        directory(f"{RESULTS}/toy_world/tokenizer"),
    log:
        f"{RESULTS}/logs/toy_world/train_toy_tokenizer.log",
    conda:
        "../envs/train.yaml"
    params:
        toy=slice_of("toy", "tokenizer"),
        seed=config["seed"],
    script:
        "../scripts/train_toy_tokenizer.py"


rule pretrain_toy_model:
    input:
        data=rules.build_toy_data.output,
        tokenizer=rules.train_toy_tokenizer.output,
    output:
        directory(f"{RESULTS}/toy_world/models/{{toymodel}}"),
    log:
        f"{RESULTS}/logs/toy_world/pretrain_{{toymodel}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/toy_world/pretrain_{{toymodel}}.tsv"
    conda:
        "../envs/train.yaml"
    threads: job_threads("train", lambda wc: wc.toymodel)
    resources:
        **job_resources("train", lambda wc: wc.toymodel),
    params:
        arch=lambda wc: canonical(model_cfg(wc.toymodel)["toy"]),
        seed=config["seed"],
    script:
        "../scripts/pretrain_toy_model.py"


rule prepare_dataset:
    input:
        dataset_source_input,
    output:
        train_2=f"{RESULTS}/data/{{dataset}}/train_2.jsonl",
        gold=f"{RESULTS}/data/{{dataset}}/train_2.gold.jsonl",
        test=f"{RESULTS}/data/{{dataset}}/test.jsonl",
    log:
        f"{RESULTS}/logs/data/{{dataset}}/prepare_dataset.log",
    conda:
        "../envs/analysis.yaml"
    params:
        task=lambda wc: dataset_cfg(wc.dataset)["task"],
        source=dataset_source("train_2", "test"),
    script:
        "../scripts/prepare_dataset.py"


rule prepare_train_1:
    input:
        dataset_source_input,
    output:
        f"{RESULTS}/data/{{dataset}}/train_1.jsonl",
    log:
        f"{RESULTS}/logs/data/{{dataset}}/prepare_train_1.log",
    conda:
        "../envs/analysis.yaml"
    params:
        task=lambda wc: dataset_cfg(wc.dataset)["task"],
        source=dataset_source("train_1"),
    script:
        "../scripts/prepare_dataset.py"
