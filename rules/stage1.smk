# Stage I: demonstrations, in-context answers, the consistency filter, strong SFT per variant and
# iteration, and the SFT baselines (full weak fine-tuning, strong ceiling).


rule sample_demonstrations:
    input:
        questions=get_train_2,
        weak=f"{RUN}/{{weak}}/stage1/iter1/weak.answers.jsonl",
    output:
        f"{RUN}/{{weak}}/stage1/demonstrations.jsonl",
    log:
        f"{RUN_LOGS}/{{weak}}/sample_demonstrations.log",
    priority: METHOD_PRIORITY
    conda:
        "../envs/analysis.yaml"
    params:
        task=task_of,
        demos=get_demonstration_settings,
    script:
        "../scripts/sample_demonstrations.py"


rule consistency_filter:
    input:
        questions=get_train_2,
        weak=f"{RUN}/{{weak}}/stage1/iter{{iter}}/weak.answers.jsonl",
        icl=f"{RUN}/{{weak}}/stage1/iter{{iter}}/icl.answers.jsonl",
    output:
        weak=f"{RUN}/{{weak}}/sft_sets/iter{{iter}}-weak.jsonl",
        icl=f"{RUN}/{{weak}}/sft_sets/iter{{iter}}-icl.jsonl",
        hybrid=f"{RUN}/{{weak}}/sft_sets/iter{{iter}}-hybrid.jsonl",
        summary=f"{RUN}/{{weak}}/stage1/iter{{iter}}/filter.json",
    log:
        f"{RUN_LOGS}/{{weak}}/consistency_filter.iter{{iter}}.log",
    priority: METHOD_PRIORITY
    conda:
        "../envs/analysis.yaml"
    params:
        task=task_of,
        mode=config["grading"]["mode"],
        padding=get_padding,
    script:
        "../scripts/consistency_filter.py"


rule build_full_weak_set:
    input:
        questions=get_train_2,
        answers=f"{RUN}/{{weak}}/stage1/iter1/weak.answers.jsonl",
    output:
        f"{RUN}/{{weak}}/sft_sets/full_weak.jsonl",
    log:
        f"{RUN_LOGS}/{{weak}}/build_full_weak_set.log",
    conda:
        "../envs/analysis.yaml"
    params:
        task=task_of,
    script:
        "../scripts/build_sft_set.py"


rule build_ceiling_set:
    input:
        questions=get_train_2,
        gold=get_train_2_gold,
    output:
        f"{RUN}/ceiling/sft_sets/ceiling.jsonl",
    log:
        f"{RUN_LOGS}/ceiling/build_ceiling_set.log",
    conda:
        "../envs/analysis.yaml"
    params:
        task=task_of,
    script:
        "../scripts/build_sft_set.py"


rule train_strong_sft:
    input:
        train=f"{RUN}/{{owner}}/sft_sets/{{sftset}}.jsonl",
        model=get_strong_base_model,
    output:
        f"{RUN}/{{owner}}/models/{{sftset}}/{TRAINING_RECORD}",
    log:
        f"{RUN_LOGS}/{{owner}}/train_strong_sft.{{sftset}}.log",
    benchmark:
        f"{RUN_BENCHMARKS}/{{owner}}/train_strong_sft.{{sftset}}.tsv"
    priority: get_sft_priority
    conda:
        "../envs/train.yaml"
    threads: STRONG_TRAIN_JOB.threads
    resources:
        **STRONG_TRAIN_JOB.resources,
    params:
        model=lambda wc: base_model_path(strong_name(wc), wc.seed),
        train=get_sft_settings(strong_name),
        seed=run_seed,
        work=f"{RUN_WORK}/{{owner}}/models/{{sftset}}",
        gpus=STRONG_TRAIN_JOB.gpus,
    script:
        "../scripts/train_sft.py"
