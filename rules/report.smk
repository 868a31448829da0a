# Paper-style tables, figures and their provenance, one set per experiment; the HTML tables and the
# PNG figures go into `snakemake --report report.html` with the captions in report/.


include: "report_common.smk"


report: "../report/workflow.rst"


rule make_tables:
    input:
        metrics=lambda wc: eval_metrics(wc.exp),
    output:
        csv=report(
            f"{RESULTS}/tables/{{exp}}.csv",
            caption="../report/main_table.rst",
            category="Tables",
            subcategory="{exp}",
            labels={"experiment": "{exp}", "table": "main", "format": "CSV"},
        ),
        long_csv=f"{RESULTS}/tables/{{exp}}.long.csv",
        md=f"{RESULTS}/tables/{{exp}}.md",
        tex=f"{RESULTS}/tables/{{exp}}.tex",
        html=report(
            f"{RESULTS}/tables/{{exp}}.html",
            caption="../report/main_table.rst",
            category="Tables",
            subcategory="{exp}",
            labels={"experiment": "{exp}", "table": "main", "format": "HTML"},
        ),
        figure_png=report(
            f"{RESULTS}/figures/{{exp}}.png",
            caption="../report/accuracy_figure.rst",
            category="Figures",
            subcategory="{exp}",
            labels={"experiment": "{exp}", "figure": "accuracy by stage"},
        ),
        figure_pdf=f"{RESULTS}/figures/{{exp}}.pdf",
        provenance=f"{RESULTS}/tables/{{exp}}.provenance.json",
    log:
        f"{RESULTS}/logs/{{exp}}/make_tables.log",
    conda:
        "../envs/analysis.yaml"
    params:
        exp=lambda wc: wc.exp,
        weak=lambda wc: exp_cfg(wc)["weak"],
        methods=lambda wc: get_table_methods(wc.exp),
        roles=lambda wc: get_table_roles(wc.exp),
        seeds=SEEDS,
        grading_mode=config["grading"]["mode"],
        accuracy_modes=config["grading"]["accuracy"],
        accuracy_mode=config["grading"]["accuracy"][0],
        test_sets=lambda wc: exp_cfg(wc)["test_sets"],
        report=slice_of("report"),
    script:
        "../scripts/make_tables.py"


# The main table again under each further grader of grading.accuracy (e.g. the paper's own rules).
use rule make_tables as make_tables_by_accuracy with:
    output:
        csv=f"{RESULTS}/tables/{{exp}}.accuracy-{{amode}}.csv",
        long_csv=f"{RESULTS}/tables/{{exp}}.accuracy-{{amode}}.long.csv",
        md=f"{RESULTS}/tables/{{exp}}.accuracy-{{amode}}.md",
        tex=f"{RESULTS}/tables/{{exp}}.accuracy-{{amode}}.tex",
        html=f"{RESULTS}/tables/{{exp}}.accuracy-{{amode}}.html",
        figure_png=f"{RESULTS}/figures/{{exp}}.accuracy-{{amode}}.png",
        figure_pdf=f"{RESULTS}/figures/{{exp}}.accuracy-{{amode}}.pdf",
        provenance=f"{RESULTS}/tables/{{exp}}.accuracy-{{amode}}.provenance.json",
    log:
        f"{RESULTS}/logs/{{exp}}/make_tables.accuracy-{{amode}}.log",
    params:
        exp=lambda wc: wc.exp,
        weak=lambda wc: exp_cfg(wc)["weak"],
        methods=lambda wc: get_table_methods(wc.exp),
        roles=lambda wc: get_table_roles(wc.exp),
        seeds=SEEDS,
        grading_mode=config["grading"]["mode"],
        accuracy_modes=config["grading"]["accuracy"],
        accuracy_mode=lambda wc: wc.amode,
        test_sets=lambda wc: exp_cfg(wc)["test_sets"],
        report=slice_of("report"),


rule make_passk_table:
    input:
        passk=get_stage2_files("passk.json"),
    output:
        csv=f"{RESULTS}/tables/{{exp}}.passk.csv",
        md=f"{RESULTS}/tables/{{exp}}.passk.md",
        tex=f"{RESULTS}/tables/{{exp}}.passk.tex",
        html=report(
            f"{RESULTS}/tables/{{exp}}.passk.html",
            caption="../report/passk_table.rst",
            category="Tables",
            subcategory="{exp}",
            labels={"experiment": "{exp}", "table": "pass@k", "format": "HTML"},
        ),
        provenance=f"{RESULTS}/tables/{{exp}}.passk.provenance.json",
    log:
        f"{RESULTS}/logs/{{exp}}/make_passk_table.log",
    conda:
        "../envs/analysis.yaml"
    params:
        exp=lambda wc: wc.exp,
        layout=lambda wc: stage2_layout(wc.exp, "passk.json"),
        grading_mode=config["grading"]["mode"],
    script:
        "../scripts/make_passk_table.py"


rule make_data_quality_table:
    input:
        gold=get_train_2_golds,
        sets=get_data_quality_sets,
    output:
        csv=f"{RESULTS}/tables/{{exp}}.data_quality.csv",
        md=f"{RESULTS}/tables/{{exp}}.data_quality.md",
        tex=f"{RESULTS}/tables/{{exp}}.data_quality.tex",
        html=report(
            f"{RESULTS}/tables/{{exp}}.data_quality.html",
            caption="../report/data_quality_table.rst",
            category="Tables",
            subcategory="{exp}",
            labels={"experiment": "{exp}", "table": "data quality", "format": "HTML"},
        ),
        figure_png=report(
            f"{RESULTS}/figures/{{exp}}.data_quality.png",
            caption="../report/data_quality_figure.rst",
            category="Figures",
            subcategory="{exp}",
            labels={"experiment": "{exp}", "figure": "set size vs label accuracy"},
        ),
        figure_pdf=f"{RESULTS}/figures/{{exp}}.data_quality.pdf",
        provenance=f"{RESULTS}/tables/{{exp}}.data_quality.provenance.json",
    log:
        f"{RESULTS}/logs/{{exp}}/make_data_quality_table.log",
    conda:
        "../envs/analysis.yaml"
    params:
        exp=lambda wc: wc.exp,
        task=task_of,
        layout=lambda wc: data_quality_layout(wc.exp),
        grading_mode=config["grading"]["mode"],
    script:
        "../scripts/make_data_quality_table.py"


rule plot_vote_confidence:
    input:
        gold=get_train_2_golds_if_any,
        votes=get_stage2_files("votes.jsonl"),
    output:
        png=report(
            f"{RESULTS}/figures/{{exp}}.confidence.png",
            caption="../report/confidence_figure.rst",
            category="Figures",
            subcategory="{exp}",
            labels={"experiment": "{exp}", "figure": "stage II vote confidence"},
        ),
        pdf=f"{RESULTS}/figures/{{exp}}.confidence.pdf",
    log:
        f"{RESULTS}/logs/{{exp}}/plot_vote_confidence.log",
    conda:
        "../envs/analysis.yaml"
    params:
        exp=lambda wc: wc.exp,
        layout=lambda wc: stage2_layout(wc.exp, "votes.jsonl"),
        task=task_of,
        n=lambda wc: exp_cfg(wc)["stage2"]["n"],
        tau=lambda wc: exp_cfg(wc)["stage2"]["tau"],
        flip_threshold=lambda wc: exp_cfg(wc)["stage2"]["flip_threshold"],
    script:
        "../scripts/plot_vote_confidence.py"
