# Paper-style tables and figures, one set per experiment.


rule make_tables:
    input:
        metrics=lambda wc: eval_metrics(wc.exp),
        passk=lambda wc: [
            f"{RESULTS}/{wc.exp}/{w}/stage2/passk.json" for w in exp_cfg(wc)["weak"]
        ],
    output:
        csv=f"{RESULTS}/tables/{{exp}}.csv",
        md=f"{RESULTS}/tables/{{exp}}.md",
        figure=f"{RESULTS}/figures/{{exp}}.png",
    log:
        f"{RESULTS}/logs/{{exp}}/make_tables.log",
    conda:
        "../envs/analysis.yaml"
    params:
        exp=lambda wc: wc.exp,
        weak=lambda wc: exp_cfg(wc)["weak"],
        methods=lambda wc: methods(wc.exp),
        test_sets=lambda wc: exp_cfg(wc)["test_sets"],
        report=slice_of("report"),
        seed=config["seed"],
    script:
        "../scripts/make_tables.py"
