# Input functions, params and target lists of the report rules (rules/report.smk); final_outputs()
# in common.smk lists table_outputs(exp) for every experiment. Tables are per experiment and take
# every seed's files; the layouts below are keyed by seed, as w2s.report reads them.


# The graders of grading.accuracy after the first: each gets a main table of its own.
EXTRA_ACCURACY_MODES = config["grading"]["accuracy"][1:]


wildcard_constraints:
    amode=_names(EXTRA_ACCURACY_MODES),


def has_stage2(exp):
    return bool(stage2_methods(exp))


def weak_layout(exp, seed):
    """Which files hold each training set of one seed's run (see w2s.report.data_quality)."""
    cfg = config["experiments"][exp]
    layout = {}
    for weak in cfg["weak"]:
        base = run_dir(exp, seed, weak)
        layout[weak] = {
            "iterations": {
                str(i): {
                    "weak": f"{base}/stage1/iter{i}/weak.answers.jsonl",
                    "icl": f"{base}/stage1/iter{i}/icl.answers.jsonl",
                    "sets": {
                        v: f"{base}/sft_sets/iter{i}-{v}.jsonl"
                        for v in registry.SFT_VARIANTS
                    },
                    "filter": f"{base}/stage1/iter{i}/filter.json",
                }
                for i in range(1, cfg["iterations"] + 1)
            },
            "votes": f"{base}/stage2/votes.jsonl" if has_stage2(exp) else None,
            "pairs": f"{base}/stage2/pairs.jsonl" if has_stage2(exp) else None,
        }
    return layout


def data_quality_layout(exp):
    """{seed: {weak: files}} for every seed of the experiment."""
    return {str(seed): weak_layout(exp, seed) for seed in SEEDS}


def get_data_quality_sets(wc):
    paths = []
    for by_weak in data_quality_layout(wc.exp).values():
        for parts in by_weak.values():
            for files in parts["iterations"].values():
                paths += [
                    files["weak"],
                    files["icl"],
                    files["filter"],
                    *files["sets"].values(),
                ]
            paths += [parts[k] for k in ("votes", "pairs") if parts[k]]
    return paths


def stage2_layout(exp, name):
    """Per seed and weak model, a stage II file (passk.json, votes.jsonl) of the experiment."""
    weak_models = config["experiments"][exp]["weak"]
    return {
        str(seed): {w: f"{run_dir(exp, seed, w)}/stage2/{name}" for w in weak_models}
        for seed in SEEDS
    }


def get_stage2_files(name):
    def get(wc):
        layout = stage2_layout(wc.exp, name)
        return [path for by_weak in layout.values() for path in by_weak.values()]

    return get


def get_train_2_golds(wc):
    """train_2 gold: one file shared by every seed for a real dataset, one per seed (in seed
    order) for a dataset the seed makes (the toy world)."""
    dataset = exp_cfg(wc)["dataset"]
    paths = [f"{data_dir(dataset, seed)}/train_2.gold.jsonl" for seed in SEEDS]
    return paths if len(set(paths)) > 1 else paths[:1]


def get_train_2_golds_if_any(wc):
    """The vote-confidence figure grades the majorities only where train_2 has gold."""
    return get_train_2_golds(wc) if has_train_2_gold(wc.exp) else []


def table_outputs(exp):
    """Every table, figure and provenance file of an experiment (for the default target)."""
    tables = f"{RESULTS}/tables/{exp}"
    figures = f"{RESULTS}/figures/{exp}"
    out = [f"{tables}.{ext}" for ext in ("csv", "long.csv", "md", "tex", "html")]
    out += [f"{tables}.provenance.json", f"{figures}.png", f"{figures}.pdf"]
    for amode in EXTRA_ACCURACY_MODES:  # rules/report.smk: make_tables_by_accuracy
        out += [
            f"{tables}.accuracy-{amode}.{ext}"
            for ext in ("csv", "long.csv", "md", "tex", "html", "provenance.json")
        ]
        out += [f"{figures}.accuracy-{amode}.{ext}" for ext in ("png", "pdf")]
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
