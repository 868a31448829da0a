# Every model on every configured test set (greedy, zero-shot; weak-ICL with the demonstrations),
# graded in the same job: one predictions JSONL and one metrics JSON per (model, test set).


rule evaluate:
    input:
        test=f"{RESULTS}/data/{{testset}}/test.jsonl",
        demos=lambda wc: (
            [f"{RESULTS}/{wc.exp}/{wc.owner}/stage1/demonstrations.jsonl"]
            if wc.method == "weak_icl"
            else []
        ),
        model=lambda wc: model_input_for(eval_model(wc)[0]),
    output:
        predictions=f"{RESULTS}/{{exp}}/{{owner}}/eval/{{method}}/{{testset}}.jsonl",
        metrics=f"{RESULTS}/{{exp}}/{{owner}}/eval/{{method}}/{{testset}}.metrics.json",
    log:
        f"{RESULTS}/logs/{{exp}}/{{owner}}/evaluate.{{method}}.{{testset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{exp}}/{{owner}}/evaluate.{{method}}.{{testset}}.tsv"
    conda:
        "../envs/generate.yaml"
    threads: job_threads("generate", eval_engine_model)
    resources:
        **job_resources("generate", eval_engine_model),
    params:
        model=lambda wc: eval_model(wc)[0],
        task=lambda wc: dataset_cfg(wc.testset)["task"],
        engine=lambda wc: slice_of("models", eval_engine_model(wc), "generation"),
        sampling=lambda wc: canonical(
            {
                "max_new_tokens": dataset_cfg(wc.testset)["max_new_tokens"],
                "seed": config["seed"],
            }
        ),
        workers=config["grading"]["workers"],
        gpus=job_gpus("generate", eval_engine_model),
        work=f"{WORK}/{{exp}}/{{owner}}/eval/{{method}}/{{testset}}",
    script:
        "../scripts/evaluate.py"


rule grade_samples:
    input:
        samples=f"{RESULTS}/{{exp}}/{{weak}}/stage2/samples.jsonl",
        gold=lambda wc: f"{RESULTS}/data/{exp_cfg(wc)['dataset']}/train_2.gold.jsonl",
    output:
        f"{RESULTS}/{{exp}}/{{weak}}/stage2/passk.json",
    log:
        f"{RESULTS}/logs/{{exp}}/{{weak}}/grade_samples.log",
    conda:
        "../envs/analysis.yaml"
    params:
        task=task_of,
        workers=config["grading"]["workers"],
    script:
        "../scripts/grade_samples.py"
