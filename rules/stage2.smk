# Stage II: M_plus (the last iteration's hybrid-ft model) samples n answers per question in one
# request, confidence-mined preference pairs, and each configured preference method from M_plus.


rule sample_answers:
    input:
        questions=get_train_2,
        model=get_m_plus,
    output:
        f"{RUN}/{{weak}}/stage2/samples.jsonl",
    log:
        f"{RUN_LOGS}/{{weak}}/sample_answers.log",
    benchmark:
        f"{RUN_BENCHMARKS}/{{weak}}/sample_answers.tsv"
    priority: METHOD_PRIORITY
    conda:
        "../envs/generate.yaml"
    threads: STRONG_GENERATE_JOB.threads
    resources:
        **STRONG_GENERATE_JOB.resources,
    params:
        model=m_plus_path,
        engine=get_engine(strong_name),
        sampling=get_stage2_sampling,
        gpus=STRONG_GENERATE_JOB.gpus,
        work=f"{RUN_WORK}/{{weak}}/stage2/samples",
    script:
        "../scripts/generate.py"


rule mine_pairs:
    input:
        questions=get_train_2,
        weak=f"{RUN}/{{weak}}/stage1/iter1/weak.answers.jsonl",
        samples=f"{RUN}/{{weak}}/stage2/samples.jsonl",
    output:
        pairs=f"{RUN}/{{weak}}/stage2/pairs.jsonl",
        votes=f"{RUN}/{{weak}}/stage2/votes.jsonl",
        summary=f"{RUN}/{{weak}}/stage2/pairs.json",
    log:
        f"{RUN_LOGS}/{{weak}}/mine_pairs.log",
    priority: METHOD_PRIORITY
    conda:
        "../envs/analysis.yaml"
    params:
        task=task_of,
        mode=config["grading"]["mode"],
        rules=get_pair_rules,
        seed=run_seed,
    script:
        "../scripts/mine_pairs.py"


rule train_preference:
    input:
        pairs=f"{RUN}/{{weak}}/stage2/pairs.jsonl",
        model=get_m_plus,
    output:
        f"{RUN}/{{weak}}/models/{{pref}}/{TRAINING_RECORD}",
    log:
        f"{RUN_LOGS}/{{weak}}/train_preference.{{pref}}.log",
    benchmark:
        f"{RUN_BENCHMARKS}/{{weak}}/train_preference.{{pref}}.tsv"
    priority: METHOD_PRIORITY
    conda:
        "../envs/train.yaml"
    threads: STRONG_TRAIN_JOB.threads
    resources:
        **STRONG_TRAIN_JOB.resources,
    params:
        model=m_plus_path,
        train=get_preference_settings,
        seed=run_seed,
        work=f"{RUN_WORK}/{{weak}}/models/{{pref}}",
        gpus=STRONG_TRAIN_JOB.gpus,
    script:
        "../scripts/train_preference.py"
