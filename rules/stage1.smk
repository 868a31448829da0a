# Stage I: demonstrations, in-context answers, the consistency filter, strong SFT per variant and
# iteration, and the SFT baselines (full weak fine-tuning, strong ceiling).


rule sample_demonstrations:
    input:
        questions=lambda wc: f"{RESULTS}/data/{exp_cfg(wc)['dataset']}/train_2.jsonl",
        weak=f"{RESULTS}/{{exp}}/{{weak}}/stage1/iter1/weak.answers.jsonl",
    output:
        f"{RESULTS}/{{exp}}/{{weak}}/stage1/demonstrations.jsonl",
    log:
        f"{RESULTS}/logs/{{exp}}/{{weak}}/sample_demonstrations.log",
    conda:
        "../envs/analysis.yaml"
    params:
        task=task_of,
        demos=lambda wc: canonical(
            {
                "k": exp_cfg(wc)["demonstrations"]["k"],
                "seed": exp_cfg(wc)["demonstrations"]["seed"],
                "ids": exp_cfg(wc)["demonstrations"]["ids_by_weak"].get(wc.weak)
                or exp_cfg(wc)["demonstrations"]["ids"],
            }
        ),
    script:
        "../scripts/sample_demonstrations.py"


rule consistency_filter:
    input:
        questions=lambda wc: f"{RESULTS}/data/{exp_cfg(wc)['dataset']}/train_2.jsonl",
        weak=f"{RESULTS}/{{exp}}/{{weak}}/stage1/iter{{iter}}/weak.answers.jsonl",
        icl=f"{RESULTS}/{{exp}}/{{weak}}/stage1/iter{{iter}}/icl.answers.jsonl",
    output:
        weak=f"{RESULTS}/{{exp}}/{{weak}}/sft_sets/iter{{iter}}-weak.jsonl",
        icl=f"{RESULTS}/{{exp}}/{{weak}}/sft_sets/iter{{iter}}-icl.jsonl",
        hybrid=f"{RESULTS}/{{exp}}/{{weak}}/sft_sets/iter{{iter}}-hybrid.jsonl",
        summary=f"{RESULTS}/{{exp}}/{{weak}}/stage1/iter{{iter}}/filter.json",
    log:
        f"{RESULTS}/logs/{{exp}}/{{weak}}/consistency_filter.iter{{iter}}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        task=task_of,
        mode=config["grading"]["mode"],
    script:
        "../scripts/consistency_filter.py"


rule build_full_weak_set:
    input:
        questions=lambda wc: f"{RESULTS}/data/{exp_cfg(wc)['dataset']}/train_2.jsonl",
        answers=f"{RESULTS}/{{exp}}/{{weak}}/stage1/iter1/weak.answers.jsonl",
    output:
        f"{RESULTS}/{{exp}}/{{weak}}/sft_sets/full_weak.jsonl",
    log:
        f"{RESULTS}/logs/{{exp}}/{{weak}}/build_full_weak_set.log",
    conda:
        "../envs/analysis.yaml"
    params:
        task=task_of,
    script:
        "../scripts/build_sft_set.py"


rule build_ceiling_set:
    input:
        questions=lambda wc: f"{RESULTS}/data/{exp_cfg(wc)['dataset']}/train_2.jsonl",
        gold=lambda wc: f"{RESULTS}/data/{exp_cfg(wc)['dataset']}/train_2.gold.jsonl",
    output:
        f"{RESULTS}/{{exp}}/ceiling/sft_sets/ceiling.jsonl",
    log:
        f"{RESULTS}/logs/{{exp}}/ceiling/build_ceiling_set.log",
    conda:
        "../envs/analysis.yaml"
    params:
        task=task_of,
    script:
        "../scripts/build_sft_set.py"


rule train_strong_sft:
    input:
        train=f"{RESULTS}/{{exp}}/{{owner}}/sft_sets/{{sftset}}.jsonl",
        model=lambda wc: model_input_for(base_model_path(the_strong(wc))),
    output:
        f"{RESULTS}/{{exp}}/{{owner}}/models/{{sftset}}/{TRAINING_RECORD}",
    log:
        f"{RESULTS}/logs/{{exp}}/{{owner}}/train_strong_sft.{{sftset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{exp}}/{{owner}}/train_strong_sft.{{sftset}}.tsv"
    conda:
        "../envs/train.yaml"
    threads: job_threads("train", the_strong)
    resources:
        **job_resources("train", the_strong),
    params:
        model=lambda wc: base_model_path(the_strong(wc)),
        train=lambda wc: slice_of("models", the_strong(wc), "sft"),
        seed=config["seed"],
        work=f"{WORK}/{{exp}}/{{owner}}/models/{{sftset}}",
        gpus=job_gpus("train", the_strong),
    script:
        "../scripts/train_sft.py"
