# The weak model: SFT on train_1 gold (unless used as is), then its zero-shot answers on train_2.


rule train_weak_sft:
    input:
        train=get_train_1,
        model=get_weak_base_model,
    output:
        f"{RUN}/{{weak}}/weak_model/{TRAINING_RECORD}",
    log:
        f"{RUN_LOGS}/{{weak}}/train_weak_sft.log",
    benchmark:
        f"{RUN_BENCHMARKS}/{{weak}}/train_weak_sft.tsv"
    priority: METHOD_PRIORITY
    conda:
        "../envs/train.yaml"
    threads: WEAK_TRAIN_JOB.threads
    resources:
        **WEAK_TRAIN_JOB.resources,
    params:
        model=lambda wc: base_model_path(wc.weak, wc.seed),
        train=get_sft_settings(lambda wc: wc.weak),
        seed=run_seed,
        work=f"{RUN_WORK}/{{weak}}/weak_model",
        gpus=WEAK_TRAIN_JOB.gpus,
    script:
        "../scripts/train_sft.py"


rule answer_train_2:
    input:
        questions=get_train_2,
        demos=get_answer_demonstrations,
        model=get_answering_model,
    output:
        f"{RUN}/{{weak}}/stage1/iter{{iter}}/{{side}}.answers.jsonl",
    log:
        f"{RUN_LOGS}/{{weak}}/answer_train_2.iter{{iter}}.{{side}}.log",
    benchmark:
        f"{RUN_BENCHMARKS}/{{weak}}/answer_train_2.iter{{iter}}.{{side}}.tsv"
    priority: METHOD_PRIORITY
    conda:
        "../envs/generate.yaml"
    threads: ANSWER_JOB.threads
    resources:
        **ANSWER_JOB.resources,
    params:
        model=lambda wc: answering_model(wc)[0],
        engine=get_engine(answering_model_name),
        sampling=get_answer_sampling,
        gpus=ANSWER_JOB.gpus,
        work=f"{RUN_WORK}/{{weak}}/stage1/iter{{iter}}/{{side}}.answers",
    script:
        "../scripts/generate.py"
