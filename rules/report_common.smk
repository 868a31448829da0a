# Input functions and target lists of the report rules (rules/report.smk); final_outputs() in
# common.smk lists table_outputs(exp) for every experiment.


def has_stage2(exp):
    return bool(config["experiments"][exp]["methods"])


def data_quality_layout(exp):
    """Which files hold each training set of an experiment (see w2s.tables.data_quality)."""
    cfg = config["experiments"][exp]
    layout = {}
    for weak in cfg["weak"]:
        base = f"{RESULTS}/{exp}/{weak}"
        layout[weak] = {
            "iterations": {
                str(i): {
                    "weak": f"{base}/stage1/iter{i}/weak.answers.jsonl",
                    "icl": f"{base}/stage1/iter{i}/icl.answers.jsonl",
                    "sets": {
                        v: f"{base}/sft_sets/iter{i}-{v}.jsonl"
                        for v in ("weak", "icl", "hybrid")
                    },
                    "filter": f"{base}/stage1/iter{i}/filter.json",
                }
                for i in range(1, cfg["iterations"] + 1)
            },
            "votes": f"{base}/stage2/votes.jsonl" if has_stage2(exp) else None,
            "pairs": f"{base}/stage2/pairs.jsonl" if has_stage2(exp) else None,
        }
    return layout


def data_quality_inputs(wc):
    paths = []
    for parts in data_quality_layout(wc.exp).values():
        for files in parts["iterations"].values():
            paths += [
                files["weak"],
                files["icl"],
                files["filter"],
                *files["sets"].values(),
            ]
        paths += [parts[k] for k in ("votes", "pairs") if parts[k]]
    return paths


def train_2_gold(wc):
    return f"{RESULTS}/data/{exp_cfg(wc)['dataset']}/train_2.gold.jsonl"


def table_outputs(exp):
    """Every table, figure and provenance file of an experiment (for the default target)."""
    tables = f"{RESULTS}/tables/{exp}"
    figures = f"{RESULTS}/figures/{exp}"
    out = [f"{tables}.{ext}" for ext in ("csv", "long.csv", "md", "tex", "html")]
    out += [f"{tables}.provenance.json", f"{figures}.png", f"{figures}.pdf"]
    # Label quality and pass@k on train_2 need its gold, which OlympicArena keeps hidden.
    gold = has_train_2_gold(exp)
    if gold:
        out += [
            f"{tables}.data_quality.{ext}"
            for ext in ("csv", "md", "tex", "html", "provenance.json")
        ]
        out += [f"{figures}.data_quality.png", f"{figures}.data_quality.pdf"]
    if has_stage2(exp) and gold:
        out += [
            f"{tables}.passk.{ext}"
            for ext in ("csv", "md", "tex", "html", "provenance.json")
        ]
    if has_stage2(exp):
        out += [f"{figures}.confidence.png", f"{figures}.confidence.pdf"]
    return out
