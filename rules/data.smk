# The toy world (synthetic data, tokenizer, tiny base models; one per seed), normalised splits
# per dataset (per seed only for toy sources), and `prefetch` (not in `rule all`): every hub model
# and hub or URL dataset into the caches, on a machine with network, for jobs that run offline
# (docs/cluster.md, "Offline clusters").


localrules:
    prefetch,
    download_dataset_file,


rule prefetch:
    log:
        f"{RESULTS}/logs/prefetch.log",
    conda:
        "../envs/analysis.yaml"
    params:
        models=get_hub_models,
        sources=get_remote_sources,
        download_cache=DOWNLOAD_CACHE,
    script:
        "../scripts/prefetch.py"


# A URL split source in the download cache: already there after `prefetch`; otherwise downloaded
# here only when jobs may go online (HF_HUB_OFFLINE=0), else one message naming `prefetch`. A local
# job; its path names the URL's host and path, so a dry run shows what is fetched.
rule download_dataset_file:
    output:
        f"{DOWNLOAD_CACHE}/{{download}}",
    log:
        f"{RESULTS}/logs/downloads/{{download}}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        source=get_url_source,
    script:
        "../scripts/download_dataset_file.py"


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
        toy=get_toy_world_settings,
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
    priority: PRETRAIN_PRIORITY
    conda:
        "../envs/train.yaml"
    threads: TOY_PRETRAIN_JOB.threads
    resources:
        **TOY_PRETRAIN_JOB.resources,
    params:
        arch=lambda wc: canonical(model_cfg(wc.toymodel)["toy"]),
        seed=run_seed,
    script:
        "../scripts/pretrain_toy_model.py"


# The test split followed by toy.fresh_test problems that no toy model has read (w2s.toy.fresh):
# what a toy dataset's evaluations grade. Not an input of the tokenizer or of any model.
rule build_toy_graded_test:
    input:
        rules.build_toy_data.output,
    output:
        f"{TOY_WORLD}/graded/test.jsonl",
    log:
        f"{RESULTS}/logs/toy_world/seed{{seed}}/build_toy_graded_test.log",
    conda:
        "../envs/analysis.yaml"
    params:
        fresh=config["toy"]["fresh_test"],
        data=slice_of("toy", "data"),
        models=get_pretrained_toy_models,
        seed=run_seed,
    script:
        "../scripts/build_toy_graded_test.py"


rule prepare_train_2:
    input:
        get_source_files("train_2"),
    output:
        train_2=f"{RESULTS}/data/{{data}}/train_2.jsonl",
        gold=f"{RESULTS}/data/{{data}}/train_2.gold.jsonl",
        train_2_source=f"{RESULTS}/data/{{data}}/train_2.source.json",
    log:
        f"{RESULTS}/logs/data/{{data}}/prepare_train_2.log",
    conda:
        "../envs/analysis.yaml"
    params:
        dataset=lambda wc: data_of(wc)[0],
        rule=get_dataset_rule,
        source=get_dataset_source("train_2"),
    script:
        "../scripts/prepare_dataset.py"


# Its own job, so that a new test source reruns only the evaluations; it reads the normalised
# train_2 to check that no test question is in it.
rule prepare_test:
    input:
        source=get_source_files("test"),
        train_2=f"{RESULTS}/data/{{data}}/train_2.jsonl",
    output:
        test=f"{RESULTS}/data/{{data}}/test.jsonl",
        test_source=f"{RESULTS}/data/{{data}}/test.source.json",
    log:
        f"{RESULTS}/logs/data/{{data}}/prepare_test.log",
    conda:
        "../envs/analysis.yaml"
    params:
        dataset=lambda wc: data_of(wc)[0],
        rule=get_dataset_rule,
        source=get_dataset_source("test"),
    script:
        "../scripts/prepare_dataset.py"


rule prepare_train_1:
    input:
        get_source_files("train_1"),
    output:
        train_1=f"{RESULTS}/data/{{data}}/train_1.jsonl",
        train_1_source=f"{RESULTS}/data/{{data}}/train_1.source.json",
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
