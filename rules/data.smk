# The toy world (synthetic data, tokenizer, tiny base models; one per seed) and normalised splits
# per dataset (per seed only for toy sources).


rule build_toy_data:
    output:
        multiext(f"{TOY_WORLD}/data/", *[f"{s}.jsonl" for s in TOY_SPLITS]),
    log:
        f"{RESULTS}/logs/toy_world/seed{{seed}}/build_toy_data.log",
    conda:
        "../envs/analysis.yaml"
    params:
        toy=slice_of("toy", "data"),
        seed=run_seed,
    script:
        "../scripts/build_toy_data.py"


rule train_toy_tokenizer:
    input:
        rules.build_toy_data.output,
    output:
        directory(f"{TOY_WORLD}/tokenizer"),
    log:
        f"{RESULTS}/logs/toy_world/seed{{seed}}/train_toy_tokenizer.log",
    conda:
        "../envs/train.yaml"
    params:
        toy=slice_of("toy", "tokenizer"),
        seed=run_seed,
    script:
        "../scripts/train_toy_tokenizer.py"


rule pretrain_toy_model:
    input:
        data=rules.build_toy_data.output,
        tokenizer=rules.train_toy_tokenizer.output,
    output:
        directory(f"{TOY_WORLD}/models/{{toymodel}}"),
    log:
        f"{RESULTS}/logs/toy_world/seed{{seed}}/pretrain_{{toymodel}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/toy_world/seed{{seed}}/pretrain_{{toymodel}}.tsv"
    conda:
        "../envs/train.yaml"
    threads: TOY_TRAIN_JOB.threads
    resources:
        **TOY_TRAIN_JOB.resources,
    params:
        arch=lambda wc: canonical(model_cfg(wc.toymodel)["toy"]),
        seed=run_seed,
    script:
        "../scripts/pretrain_toy_model.py"


rule prepare_dataset:
    input:
        get_toy_data,
    output:
        train_2=f"{RESULTS}/data/{{data}}/train_2.jsonl",
        gold=f"{RESULTS}/data/{{data}}/train_2.gold.jsonl",
        test=f"{RESULTS}/data/{{data}}/test.jsonl",
    log:
        f"{RESULTS}/logs/data/{{data}}/prepare_dataset.log",
    conda:
        "../envs/analysis.yaml"
    params:
        dataset=lambda wc: data_of(wc)[0],
        rule=get_dataset_rule,
        source=get_dataset_source("train_2", "test"),
    script:
        "../scripts/prepare_dataset.py"


rule prepare_train_1:
    input:
        get_toy_data,
    output:
        f"{RESULTS}/data/{{data}}/train_1.jsonl",
    log:
        f"{RESULTS}/logs/data/{{data}}/prepare_train_1.log",
    conda:
        "../envs/analysis.yaml"
    params:
        dataset=lambda wc: data_of(wc)[0],
        rule=get_dataset_rule,
        source=get_dataset_source("train_1"),
    script:
        "../scripts/prepare_dataset.py"
