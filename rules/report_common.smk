# Input functions, params and target lists of the report rules (rules/report.smk); final_outputs()
# in common.smk lists table_outputs(exp) for every experiment. Tables are per experiment and take
# every seed's files.


def has_stage2(exp):
    return bool(stage2_methods(exp))


def _per_seed_weak(exp, path_of):
    """One file per seed and weak model, seed-major (the order the report scripts zip them in)."""
    cfg = config["experiments"][exp]
    return [path_of(run_dir(exp, seed, weak)) for seed in SEEDS for weak in cfg["weak"]]


def weak_layout(exp, seed):
    """Which files hold each training set of one seed's run (see w2s.tables.data_quality)."""
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
    return {seed: weak_layout(exp, seed) for seed in SEEDS}


def get_data_quality_sets(wc):
    paths = []
    for layout in data_quality_layout(wc.exp).values():
        for parts in layout.values():
            for files in parts["iterations"].values():
                paths += [
                    files["weak"],
                    files["icl"],
                    files["filter"],
                    *files["sets"].values(),
                ]
            paths += [parts[k] for k in ("votes", "pairs") if parts[k]]
    return paths


def train_2_gold_path(exp, seed):
    return f"{data_dir(config['experiments'][exp]['dataset'], seed)}/train_2.gold.jsonl"


def get_train_2_golds(wc):
    """train_2 gold of each seed, in seed order (one file shared by all seeds for real data)."""
    return [train_2_gold_path(wc.exp, seed) for seed in SEEDS]


def get_gold_by_seed(wc):
    return {seed: train_2_gold_path(wc.exp, seed) for seed in SEEDS}


def get_passk_files(wc):
    return _per_seed_weak(wc.exp, lambda base: f"{base}/stage2/passk.json")


def get_vote_files(wc):
    return _per_seed_weak(wc.exp, lambda base: f"{base}/stage2/votes.jsonl")


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
