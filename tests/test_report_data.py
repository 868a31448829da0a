"""Data quality, pass@k and the vote-confidence figure from synthetic trees with 1 and 3 seeds."""

import json
import statistics
from pathlib import Path

import pytest

from tests.report_trees import (EXP, WEAK, build_stage_tree, dq_outputs, fnum, gold_path, layout, passk_outputs,
                                read_csv, response)
from w2s import grading, report
from w2s.io import InputError, write_json, write_jsonl
from w2s.pairs import DECISIONS, mine_pairs
from w2s.report.data_quality import data_quality, grade_against_gold, read_gold
from w2s.report.passk import passk_results

ROOT = Path(__file__).resolve().parents[1]
SEEDS = [0, 1, 2]


def build_seeds(root: Path, seeds=SEEDS, n_questions=30):
    """One run per seed, each with its own train_2 gold (the toy world follows the seed)."""
    return {s: build_stage_tree(root, n_questions=n_questions, seed=10 + s, seed_dirs=True, run_seed=s) for s in seeds}


def seeds_layout(root: Path, seeds=SEEDS):
    return {str(s): layout(root, seed=s) for s in seeds}


# ----------------------------------------------------------------------------- data quality
def hand_tree(tmp_path: Path) -> dict:
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
    # Decisions as stage II recorded them; q5's contradicts its confidence (0.9 >= tau), and the table
    # must follow the record, not re-apply tau.
    votes = [{"id": "q1", "majority": "1", "confidence": 0.9, "decision": "weak_chosen"},
             {"id": "q2", "majority": "6", "confidence": 0.8, "decision": "weak_rejected"},
             {"id": "q3", "majority": "4", "confidence": 0.5, "decision": "low_confidence"},
             {"id": "q4", "majority": "", "confidence": 0.4, "decision": "low_confidence"},
             {"id": "q5", "majority": "5", "confidence": 0.9, "decision": "low_confidence"}]
    write_jsonl(tmp_path / "votes.jsonl", votes)
    pairs = [{"id": "q1", "kind": "weak_chosen", "chosen_answer": "1", "rejected_answer": "6"},   # right, wrong: good
             {"id": "q1", "kind": "weak_chosen", "chosen_answer": "1", "rejected_answer": "1"},   # rejected is right
             {"id": "q2", "kind": "weak_rejected", "chosen_answer": "2", "rejected_answer": "7"},  # good
             {"id": "q3", "kind": "weak_rejected", "chosen_answer": "5", "rejected_answer": "3"}]  # both backwards
    write_jsonl(tmp_path / "pairs.jsonl", pairs)
    return {"gold": str(gold), "layout": {"w": {"iterations": {"1": {"weak": str(it / "weak.jsonl"),
                                                                     "icl": str(it / "icl.jsonl"), "sets": sets,
                                                                     "filter": str(it / "filter.json")}},
                                                "votes": str(tmp_path / "votes.jsonl"),
                                                "pairs": str(tmp_path / "pairs.jsonl")}}}


def test_data_quality_hand_computed_from_recorded_decisions(tmp_path):
    tree = hand_tree(tmp_path)
    df, votes_df = data_quality({"0": tree["gold"]}, {"0": tree["layout"]}, "gsm8k", exp="e")
    rows = {r["set"]: r for r in df.iter_rows(named=True)}
    expect = {  # set: (size, answered, right, right %, coverage %)
        "iter1-weak-answers": (5, 4, 2, 40.0, 100.0), "iter1-icl-answers": (5, 5, 3, 60.0, 100.0),
        "iter1-weak": (3, 3, 2, 200 / 3, 60.0), "iter1-icl": (3, 3, 2, 200 / 3, 60.0),
        "iter1-hybrid": (6, 6, 4, 200 / 3, 60.0),
        "votes": (5, 4, 2, 40.0, 100.0),
        "votes-weak_chosen": (1, 1, 1, 100.0, 20.0), "votes-weak_rejected": (1, 1, 0, 0.0, 20.0),
        "votes-low_confidence": (3, 2, 1, 100 / 3, 60.0),  # q5 included: its recorded decision, not tau
        "votes-too_easy": (0, 0, 0, None, 0.0),
        "pairs": (4, 4, 2, 50.0, 60.0), "pairs-weak_chosen": (2, 2, 1, 50.0, 20.0),
        "pairs-weak_rejected": (2, 2, 1, 50.0, 40.0),
    }
    for key, (size, answered, right, pct, coverage) in expect.items():
        r = rows[key]
        assert (r["size"], r["answered"], r["right"]) == (size, answered, right), key
        assert r["right_pct"] == pytest.approx(pct) and r["coverage"] == pytest.approx(coverage), key
    assert "votes-confident" not in rows  # no row re-applies tau
    assert {k for k in rows if k.startswith("votes-")} == {f"votes-{d}" for d in DECISIONS}
    assert rows["votes-weak_chosen"]["label"] == f"stage II: majority vote, {DECISIONS['weak_chosen']}"
    assert rows["pairs"]["chosen_right_pct"] == pytest.approx(75.0)   # q1, q1, q2 chosen right
    assert rows["pairs"]["rejected_wrong_pct"] == pytest.approx(50.0)  # 6 and 7 wrong; 1 and 3 right
    assert rows["iter1-weak"]["chosen_right_pct"] is None and rows["iter1-weak"]["seed"] == 0
    assert votes_df["category"].to_list() == ["majority right", "majority wrong", "majority wrong",
                                              "no majority answer", "majority right"]


def test_every_decision_stage_ii_records_has_a_label():
    """Each branch of pairs.mine_pairs, and DECISIONS names exactly those (a new one needs its words)."""
    def decision(weak_answer, answers):
        questions = [{"id": "q", "question": "2+2?"}]
        weak = [{"id": "q", "response": f"so\n#### {weak_answer}"}]
        samples = [{"id": "q", "responses": [f"so\n#### {a}" if a is not None else "no idea" for a in answers]}]
        return mine_pairs(questions, weak, samples, task="gsm8k")[1][0]["decision"]

    seen = {decision(4, [4] * 7 + [5] * 3), decision(4, [4] * 10), decision(4, [4] * 5 + [5] * 3 + [6] * 2),
            decision(3, [4] * 8 + [5, 3]), decision(3, [4] * 7 + [3] * 3), decision(3, [None] * 7 + [4] * 3)}
    assert seen == set(DECISIONS)


def test_data_quality_table_with_three_seeds(tmp_path):
    build_seeds(tmp_path)
    outputs = dq_outputs(tmp_path)
    golds = [str(gold_path(tmp_path, s)) for s in SEEDS]
    report.build_data_quality(golds, seeds_layout(tmp_path), outputs, exp=EXP, task="gsm8k", grading_mode="exact",
                              repo_dir=ROOT)
    rows = {(r["seed"], r["weak"], r["set"]): r for r in read_csv(outputs["csv"])}
    pct = {}
    for s in SEEDS:
        gold = {json.loads(line)["id"]: json.loads(line)["answer"] for line in open(golds[s])}
        for weak in WEAK:
            base = tmp_path / f"results/{EXP}/seed{s}/{weak}"
            recs = [json.loads(line) for line in open(base / "sft_sets/iter2-hybrid.jsonl")]
            right = sum(gold[r["id"]] == r["answer"] for r in recs)
            row = rows[(str(s), weak, "iter2-hybrid")]
            assert int(row["size"]) == len(recs) and int(row["right"]) == right
            pct[(s, weak)] = 100 * right / len(recs)
            answers = [json.loads(line) for line in open(base / "stage1/iter1/weak.answers.jsonl")]
            right = sum(grading.extract_answer(a["response"], "gsm8k") == gold[a["id"]] for a in answers)
            assert int(rows[(str(s), weak, "iter1-weak-answers")]["right"]) == right
            pairs = [json.loads(line) for line in open(base / "stage2/pairs.jsonl")]
            good = sum(gold[p["id"]] == p["chosen_answer"] and gold[p["id"]] != p["rejected_answer"] for p in pairs)
            assert fnum(rows[(str(s), weak, "pairs")]["right_pct"]) == pytest.approx(100 * good / len(pairs), abs=1e-4)
    md = Path(outputs["md"]).read_text()
    values = [pct[(s, "toy-mid")] for s in SEEDS]
    assert "| iter 2: kept, both (hybrid-ft set) | " in md
    assert f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}" in md
    assert md.splitlines()[0] == "# toy: how right each training set is (mean over seeds 0, 1, 2; grading mode exact)"
    prov = json.loads(Path(outputs["provenance"]).read_text())
    assert prov["graders"] == [grading.GRADER_ID] and prov["grading_mode"] == "exact" and prov["seeds"] == SEEDS
    assert set(golds) <= set(prov["inputs"])
    assert Path(outputs["figure_png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path(outputs["figure_png"]).stat().st_size > 5000


def test_stale_filter_summary_is_refused(tmp_path):
    build_stage_tree(tmp_path, n_questions=20, weak_models=["toy-weak"])
    path = tmp_path / f"results/{EXP}/toy-weak/stage1/iter1/filter.json"
    summary = json.loads(path.read_text())
    summary["kept"] += 1
    path.write_text(json.dumps(summary))
    with pytest.raises(InputError, match="stale"):
        data_quality({"0": str(gold_path(tmp_path))}, {"0": layout(tmp_path, ["toy-weak"])}, "gsm8k")


def test_grading_against_gold_uses_the_grader(tmp_path):
    gold = tmp_path / "gold.jsonl"
    write_jsonl(gold, [{"id": "a", "answer": "1200", "solution": ""}, {"id": "b", "answer": "0.5", "solution": ""},
                       {"id": "c", "answer": "", "solution": ""}])
    answers = [("a", grading.extract_answer("so it is 1,200 dollars.\n#### 1,200", "gsm8k"), "f"), ("b", "1/2", "f"),
               ("b", "2", "f"), ("a", "", "f"), ("c", "3", "f")]
    grades = grade_against_gold(read_gold(gold), answers, "gsm8k")
    assert [grades[(q, a)] for q, a, _ in answers] == [True, True, False, False, None]
    with pytest.raises(InputError, match="'zzz' is not in the train_2 gold"):
        grade_against_gold(read_gold(gold), [("zzz", "1", "votes.jsonl")], "gsm8k")


# ----------------------------------------------------------------------------- pass@k
def test_passk_table_matches_sample_counts(tmp_path):
    counts = build_stage_tree(tmp_path, n_questions=30, n_samples=5)
    outputs = passk_outputs(tmp_path)
    paths = {"0": {w: str(tmp_path / f"results/{EXP}/{w}/stage2/passk.json") for w in WEAK}}
    report.build_passk_table(paths, outputs, exp=EXP, grading_mode="equivalence")
    rows = {r["weak"]: r for r in read_csv(outputs["csv"])}
    for weak, per_q in counts.items():
        mean_sample = sum(c / n for n, c in per_q) / len(per_q)
        assert float(rows[weak]["pass@1"]) == pytest.approx(100 * mean_sample, abs=1e-4)
        assert float(rows[weak]["sample_accuracy"]) == pytest.approx(100 * mean_sample, abs=1e-4)
        assert float(rows[weak]["pass@5"]) == pytest.approx(100 * sum(c > 0 for _, c in per_q) / len(per_q), abs=1e-4)
        values = [float(rows[weak][f"pass@{k}"]) for k in range(1, 6)]
        assert values == sorted(values) and rows[weak]["seed"] == "0"
    md = Path(outputs["md"]).read_text()
    assert "| weak model | questions | sample acc. | pass@1 | pass@2 | pass@3 | pass@4 | pass@5 |" in md
    assert "grading mode equivalence" in md.splitlines()[0]


def test_passk_with_three_seeds(tmp_path):
    counts = build_seeds(tmp_path)
    outputs = passk_outputs(tmp_path)
    paths = {str(s): {w: str(tmp_path / f"results/{EXP}/seed{s}/{w}/stage2/passk.json") for w in WEAK} for s in SEEDS}
    report.build_passk_table(paths, outputs, exp=EXP, grading_mode="equivalence")
    rows = read_csv(outputs["csv"])
    assert sorted((r["seed"], r["weak"]) for r in rows) == sorted((str(s), w) for s in SEEDS for w in WEAK)
    at_n = [100 * sum(c > 0 for _, c in counts[s]["toy-weak"]) / 30 for s in SEEDS]
    md = Path(outputs["md"]).read_text()
    assert f"{statistics.mean(at_n):.2f} ± {statistics.stdev(at_n):.2f} |" in md


def test_passk_with_missing_k_is_refused(tmp_path):
    path = tmp_path / "passk.json"
    write_json(path, {"n": 3, "questions": 2, "sample_accuracy": 0.5, "pass_at_k": {"1": 0.5, "3": 0.9}})
    with pytest.raises(InputError, match="k = 1..3"):
        passk_results({"0": {"w": str(path)}})


# ----------------------------------------------------------------------------- confidence figure
def conf_outputs(root: Path) -> dict:
    return {"png": str(root / "c.png"), "pdf": str(root / "c.pdf")}


def test_confidence_figure_with_gold_and_three_seeds(tmp_path):
    build_seeds(tmp_path)
    votes_layout = {str(s): {w: layout(tmp_path, seed=s)[w]["votes"] for w in WEAK} for s in SEEDS}
    golds = [str(gold_path(tmp_path, s)) for s in SEEDS]
    votes = report.build_confidence_figure(golds, votes_layout, conf_outputs(tmp_path), exp=EXP, task="gsm8k",
                                           n_samples=6, tau=0.6, flip_threshold=0.8)
    assert votes.height == len(SEEDS) * len(WEAK) * 30 and sorted(set(votes["seed"].to_list())) == SEEDS
    for s in SEEDS:  # each seed's majorities graded against that seed's gold
        gold = {json.loads(line)["id"]: json.loads(line)["answer"] for line in open(golds[s])}
        v = [json.loads(line) for line in open(votes_layout[str(s)]["toy-weak"])]
        right = sum(bool(x["majority"]) and x["majority"] == gold[x["id"]] for x in v)
        got = votes.filter((votes["seed"] == s) & (votes["weak"] == "toy-weak") & (votes["category"] == "majority right"))
        assert got.height == right
    assert Path(tmp_path / "c.png").stat().st_size > 5000 and Path(tmp_path / "c.pdf").stat().st_size > 5000


def test_confidence_figure_without_gold_never_calls_a_majority_wrong(tmp_path):
    build_stage_tree(tmp_path, n_questions=20)
    votes_layout = {"0": {w: layout(tmp_path)[w]["votes"] for w in WEAK}}
    votes = report.build_confidence_figure([], votes_layout, conf_outputs(tmp_path), exp=EXP, task="olympicarena",
                                           n_samples=6, tau=0.6, flip_threshold=0.8)
    assert "majority wrong" not in votes["category"].to_list()
    assert set(votes["category"].to_list()) <= set(DECISIONS.values())
    assert Path(tmp_path / "c.png").stat().st_size > 5000
    # A gold file whose answers are hidden (OlympicArena's train_2): "no gold", not "wrong".
    hidden = tmp_path / "hidden.jsonl"
    write_jsonl(hidden, [{"id": json.loads(line)["id"], "answer": "", "solution": ""} for line in open(gold_path(tmp_path))])
    votes = report.build_confidence_figure(str(hidden), votes_layout, conf_outputs(tmp_path), exp=EXP, task="gsm8k",
                                           n_samples=6, tau=0.6, flip_threshold=0.8)
    assert set(votes["category"].to_list()) <= {"no gold", "no majority answer"}


def test_report_builders_write_the_same_bytes_twice(tmp_path):
    build_seeds(tmp_path)
    golds = [str(gold_path(tmp_path, s)) for s in SEEDS]
    dq, pk, conf = dq_outputs(tmp_path), passk_outputs(tmp_path), conf_outputs(tmp_path)
    votes_layout = {str(s): {w: layout(tmp_path, seed=s)[w]["votes"] for w in WEAK} for s in SEEDS}
    paths = {str(s): {w: str(tmp_path / f"results/{EXP}/seed{s}/{w}/stage2/passk.json") for w in WEAK} for s in SEEDS}

    def run():
        report.build_data_quality(golds, seeds_layout(tmp_path), dq, exp=EXP, task="gsm8k", grading_mode="equivalence",
                                  repo_dir=ROOT)
        report.build_passk_table(paths, pk, exp=EXP, grading_mode="equivalence", repo_dir=ROOT)
        report.build_confidence_figure(golds, votes_layout, conf, exp=EXP, task="gsm8k", n_samples=6, tau=0.6,
                                       flip_threshold=0.8)
        return {p: Path(p).read_bytes() for p in [*dq.values(), *pk.values(), *conf.values()]}

    first, second = run(), run()
    for path in first:
        assert first[path] == second[path], path
