# Weak-to-strong reasoning (Yang, Ma, Liu 2024) as one DAG.
#   snakemake --cores all                                   tiny CPU default (config/config.yaml)
#   snakemake --profile slurm --configfile config/paper/gsm8k.yaml   the paper's GSM8K grid on SLURM
from snakemake.utils import min_version

min_version("9.20")


include: "rules/config_file.smk"


configfile: DEFAULT_CONFIG


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/weak.smk"
include: "rules/stage1.smk"
include: "rules/stage2.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"
include: "rules/release.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
        model_cards(),
