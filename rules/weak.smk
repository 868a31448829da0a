# The weak model: SFT on train_1 gold (unless used as is), then its zero-shot answers on train_2.


rule train_weak_sft:
    input:
        train=lambda wc: f"{RESULTS}/data/{exp_cfg(wc)['dataset']}/train_1.jsonl",
        model=lambda wc: base_model_input(wc.weak),
    output:
        f"{RESULTS}/{{exp}}/{{weak}}/weak_model/{TRAINING_RECORD}",
    log:
        f"{RESULTS}/logs/{{exp}}/{{weak}}/train_weak_sft.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{exp}}/{{weak}}/train_weak_sft.tsv"
    conda:
        "../envs/train.yaml"
    threads: job_threads("train", the_weak)
    resources:
        **job_resources("train", the_weak),
    params:
        model=lambda wc: base_model_path(wc.weak),
        train=lambda wc: slice_of("models", wc.weak, "sft"),
        seed=config["seed"],
        work=f"{WORK}/{{exp}}/{{weak}}/weak_model",
        gpus=job_gpus("train", the_weak),
    script:
        "../scripts/train_sft.py"


rule answer_train_2:
    input:
        questions=lambda wc: f"{RESULTS}/data/{exp_cfg(wc)['dataset']}/train_2.jsonl",
        demos=lambda wc: (
            [f"{RESULTS}/{wc.exp}/{wc.weak}/stage1/demonstrations.jsonl"]
            if uses_demonstrations(wc)
            else []
        ),
        model=lambda wc: model_input_for(train_2_answers_model(wc)[0]),
    output:
        f"{RESULTS}/{{exp}}/{{weak}}/stage1/iter{{iter}}/{{side}}.answers.jsonl",
    log:
        f"{RESULTS}/logs/{{exp}}/{{weak}}/answer_train_2.iter{{iter}}.{{side}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{exp}}/{{weak}}/answer_train_2.iter{{iter}}.{{side}}.tsv"
    conda:
        "../envs/generate.yaml"
    threads: job_threads("generate", answering_model)
    resources:
        **job_resources("generate", answering_model),
    params:
        model=lambda wc: train_2_answers_model(wc)[0],
        engine=lambda wc: slice_of("models", answering_model(wc), "generation"),
        sampling=lambda wc: canonical(
            {
                "max_new_tokens": dataset_cfg(exp_cfg(wc)["dataset"])[
                    "max_new_tokens"
                ],
                "seed": config["seed"],
            }
        ),
        gpus=job_gpus("generate", answering_model),
        work=f"{WORK}/{{exp}}/{{weak}}/stage1/iter{{iter}}/{{side}}.answers",
    script:
        "../scripts/generate.py"
