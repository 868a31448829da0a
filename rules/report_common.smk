# Input functions, params and target lists of the report rules (rules/report.smk); final_outputs()
# in common.smk lists table_outputs(exp) for every experiment.


def has_stage2(exp):
    return bool(config["experiments"][exp]["methods"])


def report_seeds(exp):
    """The seeds an experiment's tables cover (today one run: the config's seed)."""
    return [config["seed"]]


def temporary_report_rows(exp):
    """Rows (display order) and roles of the main table, the contract of w2s.report.spec.

    Temporary: the registry branch replaces this with the registry's builder; until then the
    stage II labels are the method keys in capitals."""
    cfg = config["experiments"][exp]
    last = cfg["iterations"]

    def row(key, label, stage, iteration=None):
        return {"key": key, "label": label, "stage": stage, "iteration": iteration}

    stage1 = [
        row(f"iter{i}-{v}", f"{v}-ft (iter {i})", "stage I", i)
        for i in range(1, last + 1)
        for v in ("weak", "icl", "hybrid")
    ]
    stage1[-1]["label"] += " = M_plus"
    methods = [
        row("weak_floor", "weak floor", "baselines"),
        row("full_weak", "full weak FT", "baselines"),
        row("weak_icl", "weak-ICL", "baselines"),
        *stage1,
        *[row(m, f"{m.upper()} (stage II)", "stage II") for m in cfg["methods"]],
        row("ceiling", "strong ceiling", "ceiling"),
    ]
    roles = {
        "floor": "weak_floor",
        "ceiling": "ceiling",
        "full_weak": "full_weak",
        "m_plus": f"iter{last}-hybrid",
    }
    return {"methods": methods, "roles": roles}


def data_quality_layout(exp):
    """Per seed, which files hold each training set (see w2s.report.data_quality)."""
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
    return {str(seed): layout for seed in report_seeds(exp)}


def data_quality_inputs(wc):
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
        str(seed): {w: f"{RESULTS}/{exp}/{w}/stage2/{name}" for w in weak_models}
        for seed in report_seeds(exp)
    }


def stage2_inputs(name):
    def get(wc):
        layout = stage2_layout(wc.exp, name)
        return [path for by_weak in layout.values() for path in by_weak.values()]

    return get


def train_2_gold(wc):
    return f"{RESULTS}/data/{exp_cfg(wc)['dataset']}/train_2.gold.jsonl"


def train_2_gold_if_any(wc):
    """The vote-confidence figure grades the majorities only where train_2 has gold."""
    return [train_2_gold(wc)] if has_train_2_gold(wc.exp) else []


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
