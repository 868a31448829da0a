"""Tables, figures and provenance from synthetic results trees laid out like the workflow's.

Every expected number is recomputed here from the files the tree holds (or written out by hand),
never read back from the code under test.
"""

import csv
import json
import random
import types
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_snakemake
from w2s import report as tables
from w2s.io import InputError, write_json, write_jsonl
from w2s.metrics import bootstrap_ci, bootstrap_indices, mean_pass_at_k, percentile_interval

ROOT = Path(__file__).resolve().parents[1]
EXP, DATASET, WEAK = "toy", "toy", ["toy-weak", "toy-mid"]
METHODS = ["weak_floor", "weak_icl", "full_weak", *[f"iter{i}-{v}" for i in (1, 2) for v in ("weak", "icl", "hybrid")],
           "dpo", "orpo"]
# Accuracy each synthetic method is drawn with: a stage-wise rise, as the method hopes for.
RATES = {"weak_floor": 0.3, "full_weak": 0.33, "weak_icl": 0.4, "iter1-weak": 0.45, "iter1-icl": 0.5,
         "iter1-hybrid": 0.52, "iter2-weak": 0.5, "iter2-icl": 0.55, "iter2-hybrid": 0.58, "dpo": 0.62,
         "orpo": 0.6, "ceiling": 0.8}

# A grader stub for hand-computed data-quality cases: "#### N" extraction, exact string match.
STUB = types.SimpleNamespace(
    GRADER_ID="stub-exact",
    extract_answer=lambda response, task: response.rsplit("####", 1)[1].strip() if "####" in response else "",
    is_equivalent=lambda gold, pred, task, answer_type=None: gold.strip() == pred.strip(),
)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fnum(text):
    return float(text) if text not in ("", None) else None


# ----------------------------------------------------------------------------- synthetic trees
def write_eval(root: Path, owner: str, method: str, ids: list[str], rng: random.Random, testset: str = DATASET,
               rate: float | None = None) -> Path:
    rate = RATES[method] if rate is None else rate
    rows = []
    for qid in ids:
        ok = rng.random() < rate
        rows.append({"id": qid, "question": f"q {qid}", "response": f"... #### {1 if ok else 2}", "gold": "1",
                     "pred": "1" if ok else "2", "correct": ok})
    base = root / f"results/{EXP}/{owner}/eval/{method}/{testset}"
    write_jsonl(f"{base}.jsonl", rows)
    n_correct = sum(r["correct"] for r in rows)
    write_json(f"{base}.metrics.json", {"exp": EXP, "owner": owner, "method": method, "testset": testset,
                                        "model": "m", "task": "gsm8k", "n": len(rows), "correct": n_correct,
                                        "accuracy": n_correct / len(rows), "answered": len(rows),
                                        "grader": "test-grader/equivalence", "generation": {}})
    return Path(f"{base}.metrics.json")


def build_eval_tree(root: Path, n_test: int = 80, seed: int = 0, weak_models=WEAK) -> list[str]:
    rng = random.Random(seed)
    ids = [f"t{i}" for i in range(n_test)]
    paths = [write_eval(root, w, m, ids, rng) for w in weak_models for m in METHODS]
    paths.append(write_eval(root, "ceiling", "ceiling", ids, rng))
    return [str(p.relative_to(root)) for p in paths]


def response(answer: str | None) -> str:
    return "steps\n#### " + answer if answer is not None else "steps without a final answer"


def build_stage_tree(root: Path, n_questions: int = 40, seed: int = 1, weak_models=WEAK, n_samples: int = 6) -> dict:
    """train_2 gold, both sides' answers and the filtered sets per iteration, votes, pairs, passk."""
    rng = random.Random(seed)
    gold = {f"q{i}": str(i) for i in range(n_questions)}
    write_jsonl(root / f"results/data/{DATASET}/train_2.gold.jsonl",
                [{"id": q, "answer": a, "solution": f"so #### {a}"} for q, a in gold.items()])
    write_jsonl(root / f"results/data/{DATASET}/train_2.jsonl", [{"id": q, "question": f"q {q}"} for q in gold])

    def answer(q, p):
        r = rng.random()
        return gold[q] if r < p else (None if r > 0.95 else str(int(gold[q]) + 1 + rng.randrange(2)))

    counts = {}
    for weak in weak_models:
        base = root / f"results/{EXP}/{weak}"
        for it in (1, 2):
            sides = {"weak": {q: answer(q, 0.4 + 0.1 * it) for q in gold}, "icl": {q: answer(q, 0.5 + 0.1 * it) for q in gold}}
            for side, answers in sides.items():
                write_jsonl(base / f"stage1/iter{it}/{side}.answers.jsonl",
                            [{"id": q, "response": response(a)} for q, a in answers.items()])
            kept = [q for q in gold if sides["weak"][q] is not None and sides["weak"][q] == sides["icl"][q]]
            sets = {v: [] for v in ("weak", "icl", "hybrid")}
            for q in kept:
                for side in ("weak", "icl"):
                    rec = {"id": q, "prompt": f"Question: q {q}\nAnswer:", "completion": " " + response(sides[side][q]),
                           "answer": sides[side][q], "source": side}
                    sets[side].append(rec)
                    sets["hybrid"].append(rec)
            for v, recs in sets.items():
                write_jsonl(base / f"sft_sets/iter{it}-{v}.jsonl", recs)
            write_json(base / f"stage1/iter{it}/filter.json", {"questions": len(gold), "kept": len(kept), "weak_empty": 0,
                                                               "mode": "equivalence", "grader": "test"})
        votes, pairs, per_q = [], [], []
        for q in gold:
            c = rng.randrange(n_samples + 1)
            per_q.append((n_samples, c))
            majority = gold[q] if rng.random() < 0.7 else str(int(gold[q]) + 1)
            if rng.random() < 0.05:
                majority = ""
            conf = rng.randrange(1, n_samples + 1) / n_samples
            decision = rng.choice(["weak_chosen", "weak_rejected", "low_confidence"])
            votes.append({"id": q, "majority": majority, "confidence": conf, "weak_answer": gold[q], "decision": decision})
            if decision != "low_confidence":
                chosen = gold[q] if rng.random() < 0.8 else "x"
                rejected = str(int(gold[q]) + 5) if rng.random() < 0.85 else gold[q]
                pairs.append({"id": q, "prompt": "p", "chosen": "c", "rejected": "r", "kind": decision, "confidence": conf,
                              "chosen_answer": chosen, "rejected_answer": rejected})
        write_jsonl(base / "stage2/votes.jsonl", votes)
        write_jsonl(base / "stage2/pairs.jsonl", pairs)
        write_json(base / "stage2/passk.json", {
            "n": n_samples, "questions": len(per_q), "grader": "test",
            "sample_accuracy": sum(c for _, c in per_q) / sum(n for n, _ in per_q),
            "pass_at_k": {str(k): mean_pass_at_k(per_q, k) for k in range(1, n_samples + 1)}})
        counts[weak] = per_q
    return counts


def layout(root: Path, weak_models=WEAK) -> dict:
    out = {}
    for weak in weak_models:
        base = root / f"results/{EXP}/{weak}"
        out[weak] = {"iterations": {str(i): {"weak": str(base / f"stage1/iter{i}/weak.answers.jsonl"),
                                             "icl": str(base / f"stage1/iter{i}/icl.answers.jsonl"),
                                             "sets": {v: str(base / f"sft_sets/iter{i}-{v}.jsonl")
                                                      for v in ("weak", "icl", "hybrid")},
                                             "filter": str(base / f"stage1/iter{i}/filter.json")} for i in (1, 2)},
                     "votes": str(base / "stage2/votes.jsonl"), "pairs": str(base / "stage2/pairs.jsonl")}
    return out


def main_outputs(root: Path) -> dict:
    t, f = root / "results/tables/toy", root / "results/figures/toy"
    return {"csv": f"{t}.csv", "long_csv": f"{t}.long.csv", "md": f"{t}.md", "tex": f"{t}.tex", "html": f"{t}.html",
            "figure_png": f"{f}.png", "figure_pdf": f"{f}.pdf", "provenance": f"{t}.provenance.json"}


def build_main(root: Path, metrics, resamples=300, seed=0, level=0.95, weak_models=WEAK):
    return tables.build_main_table([str(root / m) for m in metrics], main_outputs(root), exp=EXP,
                                   weak_models=weak_models, methods=METHODS, test_sets=[DATASET],
                                   resamples=resamples, level=level, seed=seed, last_iter=2, repo_dir=ROOT)


# ----------------------------------------------------------------------------- main table
def test_main_table_cells_are_recomputed_from_predictions(tmp_path):
    metrics = build_eval_tree(tmp_path)
    build_main(tmp_path, metrics, resamples=300, seed=3)
    long = read_csv(tmp_path / "results/tables/toy.long.csv")
    assert len(long) == len(WEAK) * (len(METHODS) + 1)
    for row in long:
        rows = [json.loads(line) for line in open(row["predictions"])]
        correct = [r["correct"] for r in rows]
        assert float(row["accuracy"]) == pytest.approx(100 * sum(correct) / len(correct), abs=1e-4)
        # The same interval as the reference estimator on this file's answers.
        lo, hi = bootstrap_ci(correct, resamples=300, seed=3, level=0.95)
        assert (float(row["ci_low"]), float(row["ci_high"])) == pytest.approx((100 * lo, 100 * hi), abs=1e-4)
        assert float(row["ci_low"]) <= float(row["accuracy"]) <= float(row["ci_high"])
        assert float(row["pgr_low"]) <= float(row["pgr"]) <= float(row["pgr_high"])
        if row["method"] == "weak_floor":
            assert float(row["pgr"]) == 0.0
        if row["method"] == "ceiling":
            assert float(row["pgr"]) == 1.0 and row["owner"] == "ceiling"
    # The wide CSV has the table's shape: a row per method, the accuracy under the weak model's name.
    wide = {r["key"]: r for r in read_csv(tmp_path / "results/tables/toy.csv")}
    assert list(wide) == ["weak_floor", "full_weak", "weak_icl", "iter1-weak", "iter1-icl", "iter1-hybrid",
                          "iter2-weak", "iter2-icl", "iter2-hybrid", "dpo", "orpo", "ceiling"]
    for row in long:
        assert wide[row["method"]][row["weak"]] == row["accuracy"]
        assert wide[row["method"]][f"{row['weak']} pgr"] == row["pgr"]


def test_pgr_interval_is_a_paired_bootstrap(tmp_path):
    metrics = build_eval_tree(tmp_path, n_test=50, weak_models=["toy-weak"])
    build_main(tmp_path, metrics, resamples=200, seed=5, weak_models=["toy-weak"])
    row = next(r for r in read_csv(tmp_path / "results/tables/toy.long.csv") if r["method"] == "iter1-icl")

    def vec(owner, method):
        path = tmp_path / f"results/toy/{owner}/eval/{method}/toy.jsonl"
        return [int(json.loads(line)["correct"]) for line in open(path)]

    m, f, c = vec("toy-weak", "iter1-icl"), vec("toy-weak", "weak_floor"), vec("ceiling", "ceiling")
    stats = []
    for draw in bootstrap_indices(50, 200, 5):
        mm, ff, cc = (sum(v[i] for i in draw) / 50 for v in (m, f, c))
        if cc != ff:
            stats.append((mm - ff) / (cc - ff))
    lo, hi = percentile_interval(stats, 0.95)
    assert float(row["pgr_low"]) == pytest.approx(lo, abs=1e-4)
    assert float(row["pgr_high"]) == pytest.approx(hi, abs=1e-4)
    assert float(row["pgr"]) == pytest.approx((sum(m) - sum(f)) / (sum(c) - sum(f)), abs=1e-4)


def test_pgr_undefined_when_ceiling_equals_floor(tmp_path):
    ids = [f"t{i}" for i in range(20)]
    rng = random.Random(0)
    metrics = [write_eval(tmp_path, "toy-weak", m, ids, rng, rate=0.5 if m != "weak_floor" else 1.0) for m in METHODS]
    metrics.append(write_eval(tmp_path, "ceiling", "ceiling", ids, rng, rate=1.0))
    build_main(tmp_path, [str(p.relative_to(tmp_path)) for p in metrics], resamples=100, weak_models=["toy-weak"])
    for row in read_csv(tmp_path / "results/tables/toy.long.csv"):
        assert row["pgr"] == "" and row["pgr_low"] == ""
    assert "| weak floor | 100.00 [100.0, 100.0] | – |" in (tmp_path / "results/tables/toy.md").read_text()


def test_ceiling_below_floor_is_flagged(tmp_path):
    ids = [f"t{i}" for i in range(30)]
    rng = random.Random(0)
    metrics = [write_eval(tmp_path, "toy-weak", m, ids, rng, rate=0.7 if m == "weak_floor" else 0.5) for m in METHODS]
    metrics.append(write_eval(tmp_path, "ceiling", "ceiling", ids, rng, rate=0.3))
    build_main(tmp_path, [str(p.relative_to(tmp_path)) for p in metrics], resamples=100, weak_models=["toy-weak"])
    rows = {r["method"]: r for r in read_csv(tmp_path / "results/tables/toy.long.csv")}
    assert float(rows["ceiling"]["accuracy"]) < float(rows["weak_floor"]["accuracy"])
    assert rows["weak_floor"]["pgr"] == "0.0000" and rows["ceiling"]["pgr"] == "1.0000"  # still, and no -0.0
    assert "Warning: for toy-weak the strong ceiling" in (tmp_path / "results/tables/toy.md").read_text()


def test_without_a_ceiling_pgr_is_left_empty(tmp_path):
    """OlympicArena has no train_2 gold, hence no strong ceiling: accuracies still, PGR empty."""
    ids = [f"t{i}" for i in range(25)]
    rng = random.Random(2)
    metrics = [write_eval(tmp_path, "toy-weak", m, ids, rng) for m in METHODS]
    build_main(tmp_path, [str(p.relative_to(tmp_path)) for p in metrics], resamples=100, weak_models=["toy-weak"])
    rows = {r["method"]: r for r in read_csv(tmp_path / "results/tables/toy.long.csv")}
    assert rows["ceiling"]["accuracy"] == "" and rows["dpo"]["pgr"] == "" and rows["dpo"]["accuracy"] != ""
    assert "| strong ceiling | – | – |" in (tmp_path / "results/tables/toy.md").read_text()
    assert Path(tmp_path / "results/figures/toy.png").stat().st_size > 0


def test_tables_render_every_row_and_column(tmp_path):
    metrics = build_eval_tree(tmp_path)
    build_main(tmp_path, metrics)
    md = (tmp_path / "results/tables/toy.md").read_text()
    for label in ("weak floor", "full weak FT", "weak-ICL", "weak-ft (iter 1)", "icl-ft (iter 2)",
                  "hybrid-ft (iter 2) = M_plus", "DPO (stage II)", "ORPO (stage II)", "strong ceiling"):
        assert f"| {label} |" in md
    assert "toy-weak: acc. [95% CI]" in md and "toy-mid: PGR" in md
    tex = (tmp_path / "results/tables/toy.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "\\multicolumn{2}{c}{toy-weak}" in tex
    assert "hybrid-ft (iter 2) = M\\_plus" in tex and "95\\% CI" in tex
    assert tex.count("\\midrule") >= 5  # header + baselines | iter 1 | iter 2 | stage II | ceiling
    html = (tmp_path / "results/tables/toy.html").read_text()
    assert html.count("<tr") == 2 + len(METHODS) + 1 and "strong ceiling" in html


def test_stale_metrics_file_is_refused(tmp_path):
    metrics = build_eval_tree(tmp_path, weak_models=["toy-weak"])
    path = tmp_path / metrics[0]
    m = json.loads(path.read_text())
    m["correct"] += 1
    path.write_text(json.dumps(m))
    with pytest.raises(InputError, match="stale"):
        build_main(tmp_path, metrics, weak_models=["toy-weak"])


def test_predictions_on_other_questions_are_refused(tmp_path):
    metrics = build_eval_tree(tmp_path, n_test=30, weak_models=["toy-weak"])
    write_eval(tmp_path, "toy-weak", "dpo", [f"t{i}" for i in range(1, 31)], random.Random(0))
    with pytest.raises(InputError, match="questions differ"):
        build_main(tmp_path, metrics, weak_models=["toy-weak"])


def test_two_runs_write_identical_bytes(tmp_path):
    metrics = build_eval_tree(tmp_path, n_test=40)
    build_stage_tree(tmp_path, n_questions=20)
    outputs = main_outputs(tmp_path)
    dq = {k: str(tmp_path / f"results/tables/toy.data_quality.{k}") for k in ("csv", "md", "tex", "html")}
    dq.update(figure_png=str(tmp_path / "results/figures/toy.data_quality.png"),
              figure_pdf=str(tmp_path / "results/figures/toy.data_quality.pdf"),
              provenance=str(tmp_path / "results/tables/toy.data_quality.provenance.json"))
    conf = {"png": str(tmp_path / "c.png"), "pdf": str(tmp_path / "c.pdf")}

    def run():
        build_main(tmp_path, metrics, resamples=100)
        tables.build_data_quality(str(tmp_path / "results/data/toy/train_2.gold.jsonl"), layout(tmp_path), dq,
                                  exp=EXP, task="gsm8k", grader=STUB, repo_dir=ROOT)
        tables.build_confidence_figure(str(tmp_path / "results/data/toy/train_2.gold.jsonl"),
                                       {w: layout(tmp_path)[w]["votes"] for w in WEAK}, conf, exp=EXP, task="gsm8k",
                                       n_samples=6, grader=STUB)
        return {p: Path(p).read_bytes() for p in [*outputs.values(), *dq.values(), *conf.values()]}

    first = run()
    second = run()
    assert first.keys() == second.keys()
    for path in first:
        assert first[path] == second[path], path
    prov = json.loads(Path(outputs["provenance"]).read_text())
    assert prov["graders"] == ["test-grader/equivalence"]
    assert prov["git"]["commit"] and len(prov["git"]["commit"]) == 40
    assert prov["packages"]["polars"] and prov["settings"]["bootstrap_resamples"] == 100
    assert prov["inputs"][str(tmp_path / metrics[0])] == tables.sha256_file(tmp_path / metrics[0])
    assert prov["outputs"][outputs["csv"]] == tables.sha256_file(outputs["csv"])
    for name in ("figure_png", "figure_pdf"):
        assert Path(outputs[name]).stat().st_size > 5000
    assert Path(outputs["figure_png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path(outputs["figure_pdf"]).read_bytes()[:5] == b"%PDF-"


# ----------------------------------------------------------------------------- pass@k
def test_passk_table_matches_sample_counts(tmp_path):
    counts = build_stage_tree(tmp_path, n_questions=30, n_samples=5)
    outputs = {k: str(tmp_path / f"passk.{k}") for k in ("csv", "md", "tex", "html")}
    outputs["provenance"] = str(tmp_path / "passk.provenance.json")
    paths = {w: str(tmp_path / f"results/{EXP}/{w}/stage2/passk.json") for w in WEAK}
    tables.build_passk_table(paths, outputs, exp=EXP)
    rows = {r["weak"]: r for r in read_csv(outputs["csv"])}
    for weak, per_q in counts.items():
        # pass@1 is the mean per-sample accuracy, computed here from the counts themselves.
        mean_sample = sum(c / n for n, c in per_q) / len(per_q)
        assert float(rows[weak]["pass@1"]) == pytest.approx(100 * mean_sample, abs=1e-4)
        assert float(rows[weak]["sample_accuracy"]) == pytest.approx(100 * mean_sample, abs=1e-4)
        # pass@n is the share of questions with at least one right sample.
        assert float(rows[weak]["pass@5"]) == pytest.approx(100 * sum(c > 0 for _, c in per_q) / len(per_q), abs=1e-4)
        values = [float(rows[weak][f"pass@{k}"]) for k in range(1, 6)]
        assert values == sorted(values)
    md = Path(outputs["md"]).read_text()
    assert "| weak model | questions | sample acc. | pass@1 | pass@2 | pass@3 | pass@4 | pass@5 |" in md


def test_passk_with_missing_k_is_refused(tmp_path):
    path = tmp_path / "passk.json"
    write_json(path, {"n": 3, "questions": 2, "sample_accuracy": 0.5, "pass_at_k": {"1": 0.5, "3": 0.9}})
    with pytest.raises(InputError, match="k = 1..3"):
        tables.passk_results({"w": str(path)})


# ----------------------------------------------------------------------------- data quality
def test_data_quality_hand_computed(tmp_path):
    gold = tmp_path / "gold.jsonl"
    write_jsonl(gold, [{"id": f"q{i}", "answer": str(i), "solution": ""} for i in range(1, 6)])
    it = tmp_path / "it1"
    # weak side: q1 right, q2 wrong, q3 right, q4 no answer, q5 wrong -> 2/5 right, 4 answered
    write_jsonl(it / "weak.jsonl", [{"id": "q1", "response": response("1")}, {"id": "q2", "response": response("7")},
                                    {"id": "q3", "response": response("3")}, {"id": "q4", "response": response(None)},
                                    {"id": "q5", "response": response("9")}])
    # ICL side: q1, q3, q5 right; q2 (agrees with weak's wrong 7) and q4 wrong -> 3/5 right
    write_jsonl(it / "icl.jsonl", [{"id": "q1", "response": response("1")}, {"id": "q2", "response": response("7")},
                                   {"id": "q3", "response": response("3")}, {"id": "q4", "response": response("8")},
                                   {"id": "q5", "response": response("5")}])
    kept = [("q1", "1"), ("q2", "7"), ("q3", "3")]  # the filter kept 3 agreeing questions, 2 right
    sets = {}
    for v in ("weak", "icl"):
        sets[v] = str(it / f"{v}.set.jsonl")
        write_jsonl(sets[v], [{"id": q, "prompt": "p", "completion": "c", "answer": a, "source": v} for q, a in kept])
    sets["hybrid"] = str(it / "hybrid.set.jsonl")
    write_jsonl(sets["hybrid"], [{"id": q, "prompt": "p", "completion": "c", "answer": a, "source": s}
                                 for q, a in kept for s in ("weak", "icl")])
    write_json(it / "filter.json", {"questions": 5, "kept": 3})
    votes = [{"id": "q1", "majority": "1", "confidence": 0.9, "decision": "weak_chosen"},
             {"id": "q2", "majority": "6", "confidence": 0.8, "decision": "weak_rejected"},
             {"id": "q3", "majority": "4", "confidence": 0.5, "decision": "low_confidence"},
             {"id": "q4", "majority": "", "confidence": 0.4, "decision": "low_confidence"}]
    write_jsonl(tmp_path / "votes.jsonl", votes)
    pairs = [{"id": "q1", "kind": "weak_chosen", "chosen_answer": "1", "rejected_answer": "6"},   # right, wrong: good
             {"id": "q1", "kind": "weak_chosen", "chosen_answer": "1", "rejected_answer": "1"},   # rejected is right
             {"id": "q2", "kind": "weak_rejected", "chosen_answer": "2", "rejected_answer": "7"},  # good
             {"id": "q3", "kind": "weak_rejected", "chosen_answer": "5", "rejected_answer": "3"}]  # both backwards
    write_jsonl(tmp_path / "pairs.jsonl", pairs)
    lay = {"w": {"iterations": {"1": {"weak": str(it / "weak.jsonl"), "icl": str(it / "icl.jsonl"), "sets": sets,
                                      "filter": str(it / "filter.json")}},
                 "votes": str(tmp_path / "votes.jsonl"), "pairs": str(tmp_path / "pairs.jsonl")}}
    df, votes_df, grader_id = tables.data_quality(gold, lay, "gsm8k", tau=0.6, exp="e", grader=STUB)
    assert grader_id == "stub-exact"
    rows = {r["set"]: r for r in df.iter_rows(named=True)}
    expect = {  # set: (size, answered, right, right %, coverage %)
        "iter1-weak-answers": (5, 4, 2, 40.0, 100.0), "iter1-icl-answers": (5, 5, 3, 60.0, 100.0),
        "iter1-weak": (3, 3, 2, 200 / 3, 60.0), "iter1-icl": (3, 3, 2, 200 / 3, 60.0),
        "iter1-hybrid": (6, 6, 4, 200 / 3, 60.0),
        "votes": (4, 3, 1, 25.0, 80.0), "votes-confident": (2, 2, 1, 50.0, 40.0),
        "pairs": (4, 4, 2, 50.0, 60.0), "pairs-weak_chosen": (2, 2, 1, 50.0, 20.0),
        "pairs-weak_rejected": (2, 2, 1, 50.0, 40.0),
    }
    for key, (size, answered, right, pct, coverage) in expect.items():
        r = rows[key]
        assert (r["size"], r["answered"], r["right"]) == (size, answered, right), key
        assert r["right_pct"] == pytest.approx(pct) and r["coverage"] == pytest.approx(coverage), key
    assert rows["pairs"]["chosen_right_pct"] == pytest.approx(75.0)   # q1, q1, q2 chosen right
    assert rows["pairs"]["rejected_wrong_pct"] == pytest.approx(50.0)  # 6 and 7 wrong; 1 and 3 right
    assert rows["pairs-weak_rejected"]["chosen_right_pct"] == pytest.approx(50.0)
    assert rows["iter1-weak"]["chosen_right_pct"] is None
    assert votes_df["majority"].to_list() == ["majority right", "majority wrong", "majority wrong", "no majority answer"]


def test_data_quality_table_on_a_tree(tmp_path):
    build_stage_tree(tmp_path, n_questions=30)
    outputs = {k: str(tmp_path / f"dq.{k}") for k in ("csv", "md", "tex", "html")}
    outputs.update(figure_png=str(tmp_path / "dq.png"), figure_pdf=str(tmp_path / "dq.pdf"),
                   provenance=str(tmp_path / "dq.provenance.json"))
    gold_path = tmp_path / "results/data/toy/train_2.gold.jsonl"
    tables.build_data_quality(str(gold_path), layout(tmp_path), outputs, exp=EXP, task="gsm8k", grader=STUB)
    gold = {json.loads(line)["id"]: json.loads(line)["answer"] for line in open(gold_path)}
    rows = {(r["weak"], r["set"]): r for r in read_csv(outputs["csv"])}
    assert len(rows) == len(WEAK) * (2 * 5 + 2 + 3)
    for weak in WEAK:
        for it in (1, 2):
            base = tmp_path / f"results/{EXP}/{weak}"
            recs = [json.loads(line) for line in open(base / f"sft_sets/iter{it}-icl.jsonl")]
            right = sum(gold[r["id"]] == r["answer"] for r in recs)
            row = rows[(weak, f"iter{it}-icl")]
            assert int(row["size"]) == len(recs) and int(row["right"]) == right
            assert fnum(row["right_pct"]) == pytest.approx(100 * right / len(recs), abs=1e-4)
            answers = [json.loads(line) for line in open(base / f"stage1/iter{it}/weak.answers.jsonl")]
            right = sum(STUB.extract_answer(a["response"], "") == gold[a["id"]] for a in answers)
            assert int(rows[(weak, f"iter{it}-weak-answers")]["right"]) == right
        pairs = [json.loads(line) for line in open(tmp_path / f"results/{EXP}/{weak}/stage2/pairs.jsonl")]
        good = sum(gold[p["id"]] == p["chosen_answer"] and gold[p["id"]] != p["rejected_answer"] for p in pairs)
        assert fnum(rows[(weak, "pairs")]["right_pct"]) == pytest.approx(100 * good / len(pairs), abs=1e-4)
    md = Path(outputs["md"]).read_text()
    assert "D_weak: weak model answers (all)" in md and "iter 2: kept, both (hybrid-ft set)" in md
    prov = json.loads(Path(outputs["provenance"]).read_text())
    assert prov["graders"] == ["stub-exact"] and str(gold_path) in prov["inputs"]


def test_stale_filter_summary_is_refused(tmp_path):
    build_stage_tree(tmp_path, n_questions=20, weak_models=["toy-weak"])
    path = tmp_path / f"results/{EXP}/toy-weak/stage1/iter1/filter.json"
    summary = json.loads(path.read_text())
    summary["kept"] += 1
    path.write_text(json.dumps(summary))
    with pytest.raises(InputError, match="stale"):
        tables.data_quality(tmp_path / "results/data/toy/train_2.gold.jsonl", layout(tmp_path, ["toy-weak"]), "gsm8k",
                            grader=STUB)


def test_data_quality_with_the_real_grader(tmp_path):
    grading = pytest.importorskip("w2s.grading")
    gold = tmp_path / "gold.jsonl"
    write_jsonl(gold, [{"id": "a", "answer": "1200", "solution": ""}, {"id": "b", "answer": "0.5", "solution": ""}])
    judge = tables.Judge(gold, "gsm8k")
    assert judge.grader_id == grading.GRADER_ID
    assert judge.right("a", judge.extract("so it is 1,200 dollars.\n#### 1,200"))
    assert judge.right("b", "1/2") and not judge.right("b", "2") and not judge.right("a", "")
    with pytest.raises(InputError, match="not in the train_2 gold"):
        judge.right("zzz", "1")


# ----------------------------------------------------------------------------- the rules and the report
def test_rules_and_report_on_a_synthetic_tree(workflow_copy):
    """The four report rules run by Snakemake on a synthetic results tree of the tiny default, and
    `snakemake --report` embeds their tables and figures."""
    pytest.importorskip("w2s.grading")
    work = workflow_copy
    config = yaml.safe_load((work / "config/config.yaml").read_text())
    exp = config["experiments"]["toy"]
    assert exp["iterations"] == 2 and exp["test_sets"] == [DATASET]
    build_eval_tree(work, n_test=40, weak_models=exp["weak"])
    build_stage_tree(work, n_questions=30, weak_models=exp["weak"], n_samples=exp["stage2"]["n"])
    # Only the report rules may run: the synthetic tree stands in for everything upstream of them
    # (without the flag, Snakemake would rebuild the missing models and data the tree has no files for).
    args = ["--cores", "2", "--allowed-rules", "make_tables", "make_passk_table", "make_data_quality_table",
            "plot_vote_confidence", "all"]
    res = run_snakemake(work, *args, timeout=300)
    assert res.returncode == 0, res.stderr[-4000:]
    for rule in ("make_tables", "make_passk_table", "make_data_quality_table", "plot_vote_confidence"):
        assert f"rule {rule}:" in res.stderr + res.stdout, rule
    assert {r["key"] for r in read_csv(work / "results/tables/toy.csv")} >= {"weak_floor", "ceiling", "dpo"}
    prov = json.loads((work / "results/tables/toy.data_quality.provenance.json").read_text())
    assert prov["config_sha256"] and prov["graders"][0].startswith("w2s-grading")
    res = run_snakemake(work, "-n", *args, timeout=120)  # params are stable: a second run has nothing to do
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr, res.stdout[-3000:]
    res = run_snakemake(work, "--report", "report.html", *args, timeout=300)
    assert res.returncode == 0, res.stderr[-4000:]
    html = (work / "report.html").read_text()
    for name in ("toy.html", "toy.png", "toy.passk.html", "toy.data_quality.html", "toy.confidence.png",
                 "toy.data_quality.png", "Main table of experiment"):
        assert name in html, name
