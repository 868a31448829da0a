# Every model on every configured test set (greedy, zero-shot; weak-ICL with the demonstrations),
# graded in the same job: one predictions JSONL and one metrics JSON per (model, test set).


rule evaluate:
    input:
        test=get_test,
        demos=get_eval_demonstrations,
        model=get_eval_model,
    output:
        predictions=f"{RUN}/{{owner}}/eval/{{method}}/{{testset}}.jsonl",
        metrics=f"{RUN}/{{owner}}/eval/{{method}}/{{testset}}.metrics.json",
    log:
        f"{RUN_LOGS}/{{owner}}/evaluate.{{method}}.{{testset}}.log",
    benchmark:
        f"{RUN_BENCHMARKS}/{{owner}}/evaluate.{{method}}.{{testset}}.tsv"
    conda:
        "../envs/generate.yaml"
    threads: EVAL_JOB.threads
    resources:
        **EVAL_JOB.resources,
    params:
        model=lambda wc: eval_model(wc)[0],
        task=lambda wc: dataset_cfg(wc.testset)["task"],
        engine=get_engine(eval_model_name),
        sampling=get_eval_sampling,
        workers=config["grading"]["workers"],
        accuracy_modes=config["grading"]["accuracy"],
        gpus=EVAL_JOB.gpus,
        work=f"{RUN_WORK}/{{owner}}/eval/{{method}}/{{testset}}",
    script:
        "../scripts/evaluate.py"


rule grade_samples:
    input:
        samples=f"{RUN}/{{weak}}/stage2/samples.jsonl",
        gold=get_train_2_gold,
    output:
        f"{RUN}/{{weak}}/stage2/passk.json",
    log:
        f"{RUN_LOGS}/{{weak}}/grade_samples.log",
    conda:
        "../envs/analysis.yaml"
    params:
        task=task_of,
        workers=config["grading"]["workers"],
    script:
        "../scripts/grade_samples.py"
