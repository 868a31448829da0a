"""The main table from synthetic results trees with 1 and 3 seeds: every number recomputed here from
the predictions files, never read back from the code under test."""

import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from tests.report_trees import (DATASET, EXP, METHODS, ROLES, WEAK, build_eval_tree, fnum, main_outputs,
                                method_rows, read_csv, write_eval)
from w2s import report
from w2s.io import InputError
from w2s.metrics import bootstrap_ci, bootstrap_indices, percentile_interval
from w2s.report.spec import SpecError

ROOT = Path(__file__).resolve().parents[1]


def build_main(root: Path, metrics, resamples=300, level=0.95, weak_models=WEAK, seeds=(0,), rows=None,
               mode="equivalence", accuracy_modes=("equivalence",), accuracy_mode=None):
    return report.build_main_table(list(metrics), main_outputs(root), exp=EXP, weak_models=weak_models,
                                   methods=rows or method_rows(), roles=ROLES, seeds=list(seeds), grading_mode=mode,
                                   test_sets=[DATASET], accuracy_modes=list(accuracy_modes),
                                   accuracy_mode=accuracy_mode, resamples=resamples, level=level, repo_dir=ROOT)


def correct_vector(metrics_path: str) -> list[int]:
    preds = Path(metrics_path.replace(".metrics.json", ".jsonl"))
    return [int(json.loads(line)["correct"]) for line in preds.open()]


def cell_path(metrics, owner, method, seed=None):
    return next(p for p in metrics if f"/{owner}/eval/{method}/" in p and (seed is None or f"/seed{seed}/" in p))


# ----------------------------------------------------------------------------- one seed
def test_cells_are_recomputed_from_predictions(tmp_path):
    metrics = build_eval_tree(tmp_path)
    build_main(tmp_path, metrics, resamples=300)
    long = read_csv(tmp_path / "results/tables/toy.long.csv")
    assert len(long) == len(WEAK) * (len(METHODS) + 1)
    for row in long:
        assert row["seed"] == "0"
        correct = [r["correct"] for r in map(json.loads, open(row["predictions"]))]
        assert float(row["accuracy"]) == pytest.approx(100 * sum(correct) / len(correct), abs=1e-4)
        # The same interval as the reference estimator on this file's answers, seeded by the run's seed.
        lo, hi = bootstrap_ci(correct, resamples=300, seed=0, level=0.95)
        assert (float(row["ci_low"]), float(row["ci_high"])) == pytest.approx((100 * lo, 100 * hi), abs=1e-4)
        assert float(row["pgr_low"]) <= float(row["pgr"]) <= float(row["pgr_high"])
        if row["method"] == "weak_floor":
            assert float(row["pgr"]) == 0.0
        if row["method"] == "ceiling":
            assert float(row["pgr"]) == 1.0 and row["owner"] == "ceiling"
    wide = {r["key"]: r for r in read_csv(tmp_path / "results/tables/toy.csv")}
    assert list(wide) == [r["key"] for r in method_rows()]
    for row in long:
        assert wide[row["method"]][row["weak"]] == row["accuracy"]
        assert wide[row["method"]][f"{row['weak']} pgr"] == row["pgr"]
        assert wide[row["method"]][f"{row['weak']} ci_low"] == row["ci_low"]
        assert wide[row["method"]][f"{row['weak']} sd"] == ""  # one seed: no spread


def test_pgr_interval_is_a_paired_bootstrap(tmp_path):
    metrics = build_eval_tree(tmp_path, n_test=50, weak_models=["toy-weak"], seed=5)
    build_main(tmp_path, metrics, resamples=200, weak_models=["toy-weak"], seeds=[5])
    row = next(r for r in read_csv(tmp_path / "results/tables/toy.long.csv") if r["method"] == "iter1-icl")
    m, f, c = (correct_vector(cell_path(metrics, o, k)) for o, k in
               (("toy-weak", "iter1-icl"), ("toy-weak", "weak_floor"), ("ceiling", "ceiling")))
    stats = []
    for draw in bootstrap_indices(50, 200, 5):  # the run's seed, 5
        mm, ff, cc = (sum(v[i] for i in draw) / 50 for v in (m, f, c))
        if cc != ff:
            stats.append((mm - ff) / (cc - ff))
    lo, hi = percentile_interval(stats, 0.95)
    assert (float(row["pgr_low"]), float(row["pgr_high"])) == pytest.approx((lo, hi), abs=1e-4)
    assert float(row["pgr"]) == pytest.approx((sum(m) - sum(f)) / (sum(c) - sum(f)), abs=1e-4)


def direct_gain(a: list[int], b: list[int], resamples: int, seed: int, level: float = 0.95):
    """(a - b) in points with its paired percentile-bootstrap interval, computed from scratch."""
    n = len(a)
    diffs = [100 * (sum(a[i] for i in draw) - sum(b[i] for i in draw)) / n
             for draw in bootstrap_indices(n, resamples, seed)]
    lo, hi = percentile_interval(diffs, level)
    return 100 * (sum(a) - sum(b)) / n, lo, hi


def test_gain_intervals_are_paired_bootstraps(tmp_path):
    metrics = build_eval_tree(tmp_path, n_test=60, weak_models=["toy-weak"], seed=7)
    build_main(tmp_path, metrics, resamples=250, weak_models=["toy-weak"], seeds=[7])
    rows = {r["method"]: r for r in read_csv(tmp_path / "results/tables/toy.long.csv")}
    vec = {k: correct_vector(cell_path(metrics, "toy-weak", k)) for k in ("full_weak", "iter2-hybrid", "dpo", "orpo")}
    for method, ref in (("iter2-hybrid", "full_weak"), ("dpo", "iter2-hybrid"), ("orpo", "iter2-hybrid")):
        gain, lo, hi = direct_gain(vec[method], vec[ref], 250, 7)
        r = rows[method]
        assert r["gain_over"] == ref
        assert (float(r["gain"]), float(r["gain_low"]), float(r["gain_high"])) == pytest.approx((gain, lo, hi), abs=1e-4)
    assert rows["weak_icl"]["gain"] == "" and rows["ceiling"]["gain_over"] == ""
    md = (tmp_path / "results/tables/toy.md").read_text()
    gain, lo, hi = direct_gain(vec["dpo"], vec["iter2-hybrid"], 250, 7)
    assert f"| DPO (stage II) - M_plus | {gain:+.2f} [{lo:+.1f}, {hi:+.1f}] |" in md
    gain, lo, hi = direct_gain(vec["iter2-hybrid"], vec["full_weak"], 250, 7)
    assert f"| M_plus - full weak FT (stage I) | {gain:+.2f} [{lo:+.1f}, {hi:+.1f}] |" in md


def test_pgr_undefined_when_ceiling_equals_floor(tmp_path):
    ids, rng = [f"t{i}" for i in range(20)], random.Random(0)
    metrics = [write_eval(tmp_path, "toy-weak", m, ids, rng, rate=0.5 if m != "weak_floor" else 1.0) for m in METHODS]
    metrics.append(write_eval(tmp_path, "ceiling", "ceiling", ids, rng, rate=1.0))
    build_main(tmp_path, map(str, metrics), resamples=100, weak_models=["toy-weak"])
    for row in read_csv(tmp_path / "results/tables/toy.long.csv"):
        assert row["pgr"] == "" and row["pgr_low"] == ""
    assert "| weak floor | 100.00 [100.0, 100.0] | – |" in (tmp_path / "results/tables/toy.md").read_text()


def test_ceiling_below_floor_is_flagged(tmp_path):
    ids, rng = [f"t{i}" for i in range(30)], random.Random(0)
    metrics = [write_eval(tmp_path, "toy-weak", m, ids, rng, rate=0.7 if m == "weak_floor" else 0.5) for m in METHODS]
    metrics.append(write_eval(tmp_path, "ceiling", "ceiling", ids, rng, rate=0.3))
    build_main(tmp_path, map(str, metrics), resamples=100, weak_models=["toy-weak"])
    rows = {r["method"]: r for r in read_csv(tmp_path / "results/tables/toy.long.csv")}
    assert float(rows["ceiling"]["accuracy"]) < float(rows["weak_floor"]["accuracy"])
    assert rows["weak_floor"]["pgr"] == "0.0000" and rows["ceiling"]["pgr"] == "1.0000"  # still, and no -0.0
    assert "Warning: for toy-weak the strong ceiling" in (tmp_path / "results/tables/toy.md").read_text()


def test_without_a_ceiling_pgr_is_left_empty(tmp_path):
    """OlympicArena has no train_2 gold, hence no strong ceiling: accuracies still, PGR empty."""
    ids, rng = [f"t{i}" for i in range(25)], random.Random(2)
    metrics = [write_eval(tmp_path, "toy-weak", m, ids, rng) for m in METHODS]
    build_main(tmp_path, map(str, metrics), resamples=100, weak_models=["toy-weak"])
    rows = {r["method"]: r for r in read_csv(tmp_path / "results/tables/toy.long.csv")}
    assert rows["ceiling"]["accuracy"] == "" and rows["dpo"]["pgr"] == "" and rows["dpo"]["accuracy"] != ""
    assert rows["dpo"]["gain"] != ""  # the gains need no ceiling
    assert "| strong ceiling | – | – |" in (tmp_path / "results/tables/toy.md").read_text()
    assert Path(tmp_path / "results/figures/toy.png").stat().st_size > 0


def test_tables_render_every_row_column_and_the_grading_mode(tmp_path):
    metrics = build_eval_tree(tmp_path)
    build_main(tmp_path, metrics, mode="exact")
    md = (tmp_path / "results/tables/toy.md").read_text()
    for r in method_rows():
        assert f"| {r['label']} |" in md
    assert "toy-weak: acc. [95% CI]" in md and "toy-mid: PGR" in md and "toy-mid: gain [95% CI]" in md
    assert md.splitlines()[0] == ("# toy: accuracy (%) with 95% bootstrap CI and PGR (seed 0; grading mode exact; "
                                  "accuracy mode equivalence)")
    tex = (tmp_path / "results/tables/toy.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "\\multicolumn{2}{c}{toy-weak}" in tex
    assert "hybrid-ft (iter 2) = M\\_plus" in tex and "95\\% CI" in tex and "Grading mode: exact" in tex
    html = (tmp_path / "results/tables/toy.html").read_text()
    # accuracy table: 2 header rows + rows; gains table: 2 header rows + M_plus + 2 stage II rows
    assert html.count("<tr") == (2 + len(method_rows())) + (2 + 3) and "strong ceiling" in html
    prov = json.loads((tmp_path / "results/tables/toy.provenance.json").read_text())
    assert prov["grading_mode"] == "exact" and prov["seeds"] == [0]


# ----------------------------------------------------------------------------- vocabularies come from params
def test_a_stage2_method_the_package_never_saw_lands_in_stage_ii(tmp_path):
    stage2 = [("dpo", "DPO (stage II)"), ("simpo", "SimPO")]
    rows = method_rows(stage2=stage2)
    metrics = build_eval_tree(tmp_path, n_test=40, weak_models=["toy-weak"], methods=[m for m in METHODS if m != "orpo"])
    metrics.append(str(write_eval(tmp_path, "toy-weak", "simpo", [f"t{i}" for i in range(40)], random.Random(9),
                                  rate=0.7)))
    build_main(tmp_path, metrics, resamples=100, weak_models=["toy-weak"], rows=rows)
    long = {r["method"]: r for r in read_csv(tmp_path / "results/tables/toy.long.csv")}
    assert long["simpo"]["stage"] == "stage II" and long["simpo"]["group"] == "stage II"
    assert long["simpo"]["label"] == "SimPO" and long["simpo"]["gain_over"] == "iter2-hybrid"
    simpo, m_plus = (correct_vector(cell_path(metrics, "toy-weak", k)) for k in ("simpo", "iter2-hybrid"))
    assert float(long["simpo"]["gain"]) == pytest.approx(direct_gain(simpo, m_plus, 100, 0)[0], abs=1e-4)
    assert [r["key"] for r in read_csv(tmp_path / "results/tables/toy.csv")] == [r["key"] for r in rows]
    md = (tmp_path / "results/tables/toy.md").read_text()
    assert "| SimPO |" in md and "| SimPO - M_plus |" in md
    tex_rows = (tmp_path / "results/tables/toy.tex").read_text().split("\\midrule")
    # its own rule group: stage II sits between the last stage I iteration and the ceiling
    assert any("DPO (stage II)" in part and "SimPO" in part and "hybrid" not in part for part in tex_rows)


def test_a_method_not_in_the_rows_is_refused(tmp_path):
    metrics = build_eval_tree(tmp_path, n_test=20, weak_models=["toy-weak"])
    rows = [r for r in method_rows() if r["key"] != "orpo"]
    with pytest.raises(InputError, match="'orpo' is not a row of the table"):
        build_main(tmp_path, metrics, weak_models=["toy-weak"], rows=rows)


@pytest.mark.parametrize("change, message", [
    (lambda rows, roles: rows[9].update(stage="stage III"), "stage 'stage III' is not one of"),
    (lambda rows, roles: roles.update(m_plus="iter9-hybrid"), "roles name \\['iter9-hybrid'\\]"),
    (lambda rows, roles: rows[3].update(iteration=None), "a stage I row needs its iteration"),
    (lambda rows, roles: rows.append(dict(rows[0])), "each key once"),
])
def test_malformed_params_are_refused(change, message):
    from w2s.report.spec import table_spec
    rows, roles = method_rows(), dict(ROLES)
    change(rows, roles)
    with pytest.raises(SpecError, match=message):
        table_spec(rows, roles, [0], "equivalence", "equivalence")


# ----------------------------------------------------------------------------- bad inputs
def test_stale_metrics_file_is_refused(tmp_path):
    metrics = build_eval_tree(tmp_path, weak_models=["toy-weak"])
    m = json.loads(Path(metrics[0]).read_text())
    m["correct"] += 1
    Path(metrics[0]).write_text(json.dumps(m))
    with pytest.raises(InputError, match="stale"):
        build_main(tmp_path, metrics, weak_models=["toy-weak"])


def test_metrics_without_a_seed_ask_for_the_evaluate_rule(tmp_path):
    metrics = build_eval_tree(tmp_path, n_test=10, weak_models=["toy-weak"])
    m = json.loads(Path(metrics[3]).read_text())
    del m["seed"]
    Path(metrics[3]).write_text(json.dumps(m))
    with pytest.raises(InputError, match=r"field 'seed' \(integer\) is missing.*rerun the evaluate rule"):
        build_main(tmp_path, metrics, weak_models=["toy-weak"])


def test_a_seed_outside_the_params_is_refused(tmp_path):
    metrics = build_eval_tree(tmp_path, n_test=10, weak_models=["toy-weak"], seeds=[0, 1])
    with pytest.raises(InputError, match="seed 1 is not one of the experiment's seeds"):
        build_main(tmp_path, metrics, weak_models=["toy-weak"], seeds=[0])


def test_predictions_on_other_questions_are_refused(tmp_path):
    metrics = build_eval_tree(tmp_path, n_test=30, weak_models=["toy-weak"])
    write_eval(tmp_path, "toy-weak", "dpo", [f"t{i}" for i in range(1, 31)], random.Random(0))
    with pytest.raises(InputError, match="questions differ"):
        build_main(tmp_path, metrics, weak_models=["toy-weak"])


# ----------------------------------------------------------------------------- three seeds
SEEDS = [0, 1, 2]


def test_three_seeds_mean_spread_and_per_seed_rows(tmp_path):
    metrics = build_eval_tree(tmp_path, n_test=50, seeds=SEEDS)
    build_main(tmp_path, metrics, resamples=200, seeds=SEEDS)
    long = read_csv(tmp_path / "results/tables/toy.long.csv")
    assert len(long) == len(SEEDS) * len(WEAK) * (len(METHODS) + 1)
    assert sorted({r["seed"] for r in long}) == ["0", "1", "2"]
    # Every seed's rows keep their own bootstrap interval, seeded by that run's seed.
    r = next(r for r in long if r["seed"] == "2" and r["method"] == "dpo" and r["weak"] == "toy-mid")
    lo, hi = bootstrap_ci(correct_vector(r["predictions"].replace(".jsonl", ".metrics.json")), 200, seed=2)
    assert (float(r["ci_low"]), float(r["ci_high"])) == pytest.approx((100 * lo, 100 * hi), abs=1e-4)
    wide = {r["key"]: r for r in read_csv(tmp_path / "results/tables/toy.csv")}
    md = (tmp_path / "results/tables/toy.md").read_text()
    for weak in WEAK:
        acc = {s: {} for s in SEEDS}
        for s in SEEDS:
            for m in [*METHODS, "ceiling"]:
                vec = correct_vector(cell_path(metrics, "ceiling" if m == "ceiling" else weak, m, s))
                acc[s][m] = 100 * sum(vec) / len(vec)
        for m in ("dpo", "iter1-icl", "ceiling"):
            values = [acc[s][m] for s in SEEDS]
            w = wide[m]
            assert fnum(w[weak]) == pytest.approx(statistics.mean(values), abs=1e-4)
            assert fnum(w[f"{weak} sd"]) == pytest.approx(statistics.stdev(values), abs=1e-4)
            assert (fnum(w[f"{weak} min"]), fnum(w[f"{weak} max"])) == pytest.approx((min(values), max(values)), abs=1e-4)
            assert w[f"{weak} ci_low"] == "" and w[f"{weak} seeds"] == "3"
        # PGR per seed, then averaged (not the PGR of the mean accuracies)
        pgrs = [(acc[s]["dpo"] - acc[s]["weak_floor"]) / (acc[s]["ceiling"] - acc[s]["weak_floor"]) for s in SEEDS]
        assert fnum(wide["dpo"][f"{weak} pgr"]) == pytest.approx(statistics.mean(pgrs), abs=1e-4)
        assert fnum(wide["dpo"][f"{weak} pgr_sd"]) == pytest.approx(statistics.stdev(pgrs), abs=1e-4)
        gains = [acc[s]["dpo"] - acc[s]["iter2-hybrid"] for s in SEEDS]
        assert fnum(wide["dpo"][f"{weak} gain"]) == pytest.approx(statistics.mean(gains), abs=1e-4)
        assert fnum(wide["dpo"][f"{weak} gain_sd"]) == pytest.approx(statistics.stdev(gains), abs=1e-4)
        above = sum(fnum(r["gain_low"]) > 0 for r in long if r["method"] == "dpo" and r["weak"] == weak)
        values = [acc[s]["dpo"] for s in SEEDS]
        cell = f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f} ({min(values):.1f}–{max(values):.1f})"
        assert cell in md
        assert (f"{statistics.mean(gains):+.2f} ± {statistics.stdev(gains):.2f} "
                f"({min(gains):+.1f} to {max(gains):+.1f}) | {above} of 3 |") in md
    assert md.splitlines()[0] == ("# toy: accuracy (%) mean ± sd over 3 seeds and PGR (seeds 0, 1, 2; grading mode "
                                  "equivalence; accuracy mode equivalence)")
    assert "acc. mean ± sd (range)" in md and "PGR mean ± sd" in md and "seeds with 95% CI > 0" in md


def test_a_cell_missing_in_one_seed_says_so(tmp_path):
    metrics = build_eval_tree(tmp_path, n_test=20, seeds=SEEDS, weak_models=["toy-weak"])
    gone = cell_path(metrics, "toy-weak", "orpo", 1)
    metrics.remove(gone)
    build_main(tmp_path, metrics, resamples=100, seeds=SEEDS, weak_models=["toy-weak"])
    wide = {r["key"]: r for r in read_csv(tmp_path / "results/tables/toy.csv")}
    assert wide["orpo"]["toy-weak seeds"] == "2" and wide["dpo"]["toy-weak seeds"] == "3"
    assert "(2 of 3 seeds)" in (tmp_path / "results/tables/toy.md").read_text()


# ----------------------------------------------------------------------------- determinism
RUN = """
import json, sys
from w2s import report
args = json.loads(sys.argv[1])
report.build_main_table(args["metrics"], args["outputs"], exp="toy", weak_models=args["weak"], methods=args["rows"],
                        roles=args["roles"], seeds=args["seeds"], grading_mode="equivalence", test_sets=["toy"],
                        accuracy_modes=["equivalence"], resamples=100, repo_dir=args["repo"])
"""


@pytest.mark.parametrize("seeds", [[0], SEEDS])
def test_same_bytes_whatever_the_hash_seed_and_file_order(tmp_path, seeds):
    metrics = build_eval_tree(tmp_path, n_test=30, seeds=seeds if len(seeds) > 1 else None)
    outputs = main_outputs(tmp_path)

    def run(order, hash_seed):
        args = {"metrics": order, "outputs": outputs, "weak": WEAK, "rows": method_rows(), "roles": ROLES,
                "seeds": seeds, "repo": str(ROOT)}
        env = {**os.environ, "PYTHONHASHSEED": str(hash_seed), "PYTHONPATH": str(ROOT / "src")}
        res = subprocess.run([sys.executable, "-c", RUN, json.dumps(args)], env=env, capture_output=True, text=True,
                             timeout=300)
        assert res.returncode == 0, res.stderr[-3000:]
        return {k: Path(p).read_bytes() for k, p in outputs.items()}

    first = run(metrics, 1)
    second = run(list(reversed(metrics)), 2)
    for name in first:
        assert first[name] == second[name], name
    assert first["figure_png"][:8] == b"\x89PNG\r\n\x1a\n" and len(first["figure_png"]) > 5000
    assert first["figure_pdf"][:5] == b"%PDF-" and len(first["figure_pdf"]) > 5000
    prov = json.loads(first["provenance"])
    assert prov["graders"] == ["test-grader/equivalence"] and prov["seeds"] == seeds
    assert prov["git"]["commit"] and len(prov["git"]["commit"]) == 40
    assert prov["inputs"][metrics[0]] == report.provenance.sha256_file(metrics[0])
    assert prov["outputs"][outputs["csv"]] == report.provenance.sha256_file(outputs["csv"])


# ----------------------------------------------------------------------------- accuracy modes
def _add_second_grader(metrics_paths, flip_every: int = 3) -> dict:
    """Give every prediction a second grader's decision (the first's, flipped on every
    ``flip_every``-th row) the way the evaluate rule writes it; returns path -> that grader's count."""
    import json

    counts = {}
    for m in metrics_paths:
        preds = Path(m.replace(".metrics.json", ".jsonl"))
        rows = [json.loads(line) for line in preds.read_text().splitlines()]
        for i, r in enumerate(rows):
            other = (not r["correct"]) if i % flip_every == 0 else r["correct"]
            r["correct_by_mode"] = {"equivalence": r["correct"], "paper": other}
        preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
        meta = json.loads(Path(m).read_text())
        n_paper = sum(r["correct_by_mode"]["paper"] for r in rows)
        meta["accuracy_by_mode"] = {"equivalence": meta["correct"] / meta["n"], "paper": n_paper / meta["n"]}
        meta["graders"] = {"equivalence": meta["grader"], "paper": "test-grader/paper"}
        Path(m).write_text(json.dumps(meta))
        counts[m] = n_paper
    return counts


def test_a_second_accuracy_mode_gets_its_own_table(tmp_path):
    metrics = build_eval_tree(tmp_path, n_test=40, weak_models=["toy-weak"])
    counts = _add_second_grader(metrics)
    results = build_main(tmp_path, metrics, weak_models=["toy-weak"], accuracy_modes=("equivalence", "paper"),
                         accuracy_mode="paper")
    by_key = {(r["owner"], r["method"]): r for r in results.iter_rows(named=True)}
    for m, n_paper in counts.items():
        meta = json.loads(Path(m).read_text())
        assert by_key[(meta["owner"], meta["method"])]["correct"] == n_paper
        assert by_key[(meta["owner"], meta["method"])]["grader"] == "test-grader/paper"
    md = (tmp_path / "results/tables/toy.md").read_text()
    assert "accuracy mode paper" in md.splitlines()[0] and "the paper code's own rules" in md
    # The first mode reads each prediction's `correct`, as before.
    first = build_main(tmp_path, metrics, weak_models=["toy-weak"], accuracy_modes=("equivalence", "paper"))
    assert all(r["correct"] == json.loads(Path(r["predictions"].replace(".jsonl", ".metrics.json")).read_text())["correct"]
               for r in first.iter_rows(named=True) if r["predictions"])


def test_a_mode_the_predictions_were_not_graded_by_is_refused(tmp_path):
    metrics = build_eval_tree(tmp_path, n_test=10, weak_models=["toy-weak"])
    with pytest.raises(InputError, match="no decision of the accuracy mode 'paper'"):
        build_main(tmp_path, metrics, weak_models=["toy-weak"], accuracy_modes=("equivalence", "paper"),
                   accuracy_mode="paper")
