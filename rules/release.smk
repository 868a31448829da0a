# Sharing what the workflow trained (README, "Sharing results"): a Hugging Face model card in every
# trained model folder, written after the model's evaluations; on request (`snakemake merge`, not
# in `rule all`) merged full weights of the LoRA models, for serving.
#
# A training job declares <model folder>/w2s_training.json (written last, inside the folder, before
# the folder appears) instead of directory(<model folder>), and its consumers take that file as
# input (training_record in common.smk). The card is then a file of its own rule in the same
# folder: no ChildIOException, and adding it changes no input of any other job. A retrain replaces
# the whole folder, so the old card goes with the old weights and this rule runs again.


include: "release_common.smk"


# A card is a second's work: on a cluster the main process writes it instead of a SLURM job.
localrules:
    write_model_card,
    merge,


rule write_model_card:
    input:
        record=card_record,
        metrics=card_metrics,
    output:
        f"{RUN}/{{owner}}/{{model_dir}}/{MODEL_CARD}",
    log:
        f"{RUN_LOGS}/{{owner}}/{{model_dir}}/write_model_card.log",
    conda:
        "../envs/analysis.yaml"
    params:
        spec=card_spec,
    script:
        "../scripts/write_model_card.py"


rule merge_adapter:
    input:
        record=card_record,
        metrics=card_metrics,
    output:
        directory(f"{RUN}/{{owner}}/merged/{{model_dir}}"),
    log:
        f"{RUN_LOGS}/{{owner}}/{{model_dir}}/merge_adapter.log",
    conda:
        "../envs/train.yaml"
    threads: MERGE_JOB.threads
    resources:
        **MERGE_JOB.resources,
    params:
        model=lambda wc: model_folder(wc.exp, wc.seed, wc.owner, wc.model_dir),
        spec=card_spec,
    script:
        "../scripts/merge_adapter.py"


rule merge:
    input:
        merge_targets(),
