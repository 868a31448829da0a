# Stage II: M_plus (the last iteration's hybrid-ft model) samples n answers per question in one
# request, confidence-mined preference pairs, and DPO / ORPO from M_plus.


rule sample_answers:
    input:
        questions=lambda wc: f"{RESULTS}/data/{exp_cfg(wc)['dataset']}/train_2.jsonl",
        model=m_plus_input,
    output:
        f"{RESULTS}/{{exp}}/{{weak}}/stage2/samples.jsonl",
    log:
        f"{RESULTS}/logs/{{exp}}/{{weak}}/sample_answers.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{exp}}/{{weak}}/sample_answers.tsv"
    conda:
        "../envs/generate.yaml"
    threads: job_threads("generate", the_strong)
    resources:
        **job_resources("generate", the_strong),
    params:
        model=m_plus,
        engine=lambda wc: slice_of("models", the_strong(wc), "generation"),
        sampling=lambda wc: canonical(
            {
                "max_new_tokens": dataset_cfg(exp_cfg(wc)["dataset"])[
                    "max_new_tokens"
                ],
                "n": exp_cfg(wc)["stage2"]["n"],
                "temperature": exp_cfg(wc)["stage2"]["temperature"],
                "top_p": exp_cfg(wc)["stage2"]["top_p"],
                "seed": config["seed"],
            }
        ),
        gpus=job_gpus("generate", the_strong),
        work=f"{WORK}/{{exp}}/{{weak}}/stage2/samples",
    script:
        "../scripts/generate.py"


rule mine_pairs:
    input:
        questions=lambda wc: f"{RESULTS}/data/{exp_cfg(wc)['dataset']}/train_2.jsonl",
        weak=f"{RESULTS}/{{exp}}/{{weak}}/stage1/iter1/weak.answers.jsonl",
        samples=f"{RESULTS}/{{exp}}/{{weak}}/stage2/samples.jsonl",
    output:
        pairs=f"{RESULTS}/{{exp}}/{{weak}}/stage2/pairs.jsonl",
        votes=f"{RESULTS}/{{exp}}/{{weak}}/stage2/votes.jsonl",
        summary=f"{RESULTS}/{{exp}}/{{weak}}/stage2/pairs.json",
    log:
        f"{RESULTS}/logs/{{exp}}/{{weak}}/mine_pairs.log",
    conda:
        "../envs/analysis.yaml"
    params:
        task=task_of,
        mode=config["grading"]["mode"],
        rules=lambda wc: canonical(
            {
                k: exp_cfg(wc)["stage2"][k]
                for k in ("tau", "flip_threshold", "max_pairs")
            }
        ),
        seed=config["seed"],
    script:
        "../scripts/mine_pairs.py"


rule train_preference:
    input:
        pairs=f"{RESULTS}/{{exp}}/{{weak}}/stage2/pairs.jsonl",
        model=m_plus_input,
    output:
        f"{RESULTS}/{{exp}}/{{weak}}/models/{{pref}}/{TRAINING_RECORD}",
    log:
        f"{RESULTS}/logs/{{exp}}/{{weak}}/train_preference.{{pref}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{exp}}/{{weak}}/train_preference.{{pref}}.tsv"
    conda:
        "../envs/train.yaml"
    threads: job_threads("train", the_strong)
    resources:
        **job_resources("train", the_strong),
    params:
        model=m_plus,
        train=lambda wc: canonical(exp_cfg(wc)[wc.pref]),
        seed=config["seed"],
        work=f"{WORK}/{{exp}}/{{weak}}/models/{{pref}}",
        gpus=job_gpus("train", the_strong),
    script:
        "../scripts/train_preference.py"
