"""Data quality: how right each training set is against the held-back train_2 gold, per seed.

Rows per (seed, weak model): the raw answers of each side per iteration (iteration 1: D_weak and
D_icl), the consistency-filtered sets, M_plus's majority vote (all questions, and by the decision
stage II recorded for each question in votes.jsonl) and the preference pairs (all and by kind; a
pair is right when its chosen answer is right and its rejected answer wrong). Stage II's decisions
are read, never recomputed. Every distinct (question, answer) is graded once, with w2s.grading.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import polars as pl

from .. import grading
from ..data import gold_of
from ..io import InputError, read_json, read_jsonl
from ..metrics import spread
from ..pairs import DECISIONS
from .figures import confidence_figure, data_quality_figure
from .provenance import write_provenance
from .render import Display, check_outputs, num, write_renderings

log = logging.getLogger(__name__)

VARIANT_LABELS = {"weak": "kept, weak labels (weak-ft set)", "icl": "kept, ICL labels (icl-ft set)",
                  "hybrid": "kept, both (hybrid-ft set)"}
SIDE_LABELS = {"weak": ("D_weak: weak model answers", "weak-ft answers"),
               "icl": ("D_icl: weak-ICL answers", "icl-ft answers")}
DQ_SCHEMA = {"exp": pl.String, "seed": pl.Int64, "weak": pl.String, "stage": pl.String, "iteration": pl.Int64,
             "set": pl.String, "label": pl.String, "questions": pl.Int64, "size": pl.Int64, "coverage": pl.Float64,
             "answered": pl.Int64, "right": pl.Int64, "right_pct": pl.Float64, "chosen_right_pct": pl.Float64,
             "rejected_wrong_pct": pl.Float64}
VOTES_SCHEMA = {"exp": pl.String, "seed": pl.Int64, "weak": pl.String, "id": pl.String, "confidence": pl.Float64,
                "decision": pl.String, "category": pl.String}
MAJORITY_CATEGORIES = ("majority right", "majority wrong", "no majority answer", "no gold")


def read_gold(path: str | Path) -> dict[str, dict]:
    return {r["id"]: r for r in read_jsonl(path, {"id": str, "answer": str})}


def grade_against_gold(gold: Mapping[str, dict], answers: Iterable[tuple[str, str, str]], task: str
                       ) -> dict[tuple[str, str], bool | None]:
    """Each distinct (question id, extracted answer) graded once against the gold with w2s.grading:
    True / False, None where the question has no gold answer. An empty answer is never right.
    ``answers`` are (id, answer, file it came from) triples; an id without gold is an input error."""
    grades: dict[tuple[str, str], bool | None] = {}
    for qid, answer, where in answers:
        if (qid, answer) in grades:
            continue
        g = gold.get(qid)
        if g is None:
            raise InputError(f"{where}: question id {qid!r} is not in the train_2 gold.")
        if not g["answer"].strip():
            grades[(qid, answer)] = None
        else:
            # OlympicArena gold carries an answer type (SC, NV, SET ...), a type sequence and an answer
            # list for multi-part answers: graded by them, as the filter and the vote compared them.
            grades[(qid, answer)] = bool(answer) and grading.is_equivalent(
                gold_of(g), answer, task, answer_type=g.get("answer_type") or None,
                type_sequence=g.get("type_sequence") or None)
    return grades


def read_votes(path: str | Path) -> list[dict]:
    return read_jsonl(path, {"id": str, "majority": str, "confidence": (int, float), "decision": str})


def read_pairs(path: str | Path) -> list[dict]:
    return read_jsonl(path, {"id": str, "chosen_answer": str, "rejected_answer": str, "kind": str},
                      allow_empty=True, unique=None)


def _read_weak(parts: Mapping, task: str) -> dict:
    """Every file of one (seed, weak model): answers extracted, sets, votes and pairs as records."""
    read = {"sides": {}, "sets": {}, "votes": None, "pairs": None}
    for it_key in sorted(parts["iterations"], key=int):
        it, files = int(it_key), parts["iterations"][it_key]
        for side in SIDE_LABELS:
            answers = read_jsonl(files[side], {"id": str, "response": str})
            read["sides"][(it, side)] = (files[side], [(a["id"], grading.extract_answer(a["response"], task))
                                                       for a in answers])
        for variant in VARIANT_LABELS:
            path = files["sets"][variant]
            records = read_jsonl(path, {"id": str, "answer": str}, allow_empty=True, unique=None)
            read["sets"][(it, variant)] = (path, [(r["id"], r["answer"]) for r in records])
        summary = read_json(files["filter"]) if files.get("filter") else {}
        kept = len(read["sets"][(it, "weak")][1])
        if "kept" in summary and summary["kept"] != kept:
            raise InputError(f"{files['filter']}: says kept={summary['kept']} but {files['sets']['weak']} has "
                             f"{kept} rows; one is stale, rerun the consistency_filter rule.")
    if parts.get("votes"):
        read["votes"] = (parts["votes"], read_votes(parts["votes"]))
    if parts.get("pairs"):
        read["pairs"] = (parts["pairs"], read_pairs(parts["pairs"]))
    return read


def _all_answers(read: Mapping) -> Iterable[tuple[str, str, str]]:
    for path, items in [*read["sides"].values(), *read["sets"].values()]:
        yield from ((qid, a, path) for qid, a in items)
    if read["votes"]:
        path, votes = read["votes"]
        yield from ((v["id"], v["majority"], path) for v in votes)
    if read["pairs"]:
        path, pairs = read["pairs"]
        for p in pairs:
            yield from ((p["id"], p["chosen_answer"], path), (p["id"], p["rejected_answer"], path))


def _share(count: int, total: int) -> float | None:
    return 100.0 * count / total if total else None


def _row(base: Mapping, stage, iteration, key, label, items: Sequence[tuple[str, str]], rights: Sequence[bool]) -> dict:
    ids = [qid for qid, _ in items]
    return {**base, "stage": stage, "iteration": iteration, "set": key, "label": label, "size": len(ids),
            "coverage": _share(len(set(ids)), base["questions"]), "answered": sum(bool(a) for _, a in items),
            "right": sum(rights), "right_pct": _share(sum(rights), len(ids)), "chosen_right_pct": None,
            "rejected_wrong_pct": None}


def _decision_label(decision: str) -> str:
    return DECISIONS.get(decision, f"decision {decision}")


def _ordered(found: Iterable[str]) -> list[str]:
    """Decisions (or pair kinds) in stage II's order, any the report does not know after them, sorted."""
    found = set(found)
    return [d for d in DECISIONS if d in found] + sorted(found - set(DECISIONS))


def _stage2_rows(base: Mapping, read: Mapping, right, pair_kinds: Sequence[str]) -> list[dict]:
    """The vote (all, and by recorded decision) and the pairs (all, and by kind) of one (seed, weak)."""
    rows = []
    if read["votes"]:
        _, votes = read["votes"]
        decisions = _ordered([*DECISIONS, *(v["decision"] for v in votes)])  # every known one, even if unused
        groups = [("votes", "stage II: majority vote (all)", votes)]
        groups += [(f"votes-{d}", f"stage II: majority vote, {_decision_label(d)}",
                    [v for v in votes if v["decision"] == d]) for d in decisions]
        for key, label, chosen in groups:
            items = [(v["id"], v["majority"]) for v in chosen]
            rows.append(_row(base, "stage II", None, key, label, items, [right(q, a) for q, a in items]))
    if read["pairs"]:
        _, pairs = read["pairs"]
        groups = [("pairs", "stage II: pairs (all)", pairs)]
        groups += [(f"pairs-{k}", f"stage II: pairs, {_decision_label(k)}", [p for p in pairs if p["kind"] == k])
                   for k in pair_kinds]
        for key, label, chosen in groups:
            c_right = [right(p["id"], p["chosen_answer"]) for p in chosen]
            r_wrong = [not right(p["id"], p["rejected_answer"]) for p in chosen]
            row = _row(base, "stage II", None, key, label, [(p["id"], p["chosen_answer"]) for p in chosen],
                       [a and b for a, b in zip(c_right, r_wrong)])
            row.update(chosen_right_pct=_share(sum(c_right), len(chosen)),
                       rejected_wrong_pct=_share(sum(r_wrong), len(chosen)))
            rows.append(row)
    return rows


def _stage1_rows(base: Mapping, read: Mapping, right) -> list[dict]:
    rows = []
    for it in sorted({it for it, _ in read["sides"]}):
        for side, (first_name, later_name) in SIDE_LABELS.items():
            path, items = read["sides"][(it, side)]
            label = first_name if it == 1 else f"iter {it}: {later_name} of iter {it - 1}"
            rows.append(_row(base, "stage I", it, f"iter{it}-{side}-answers", label + " (all)", items,
                             [right(q, a) for q, a in items]))
        for variant, label in VARIANT_LABELS.items():
            path, items = read["sets"][(it, variant)]
            rows.append(_row(base, "stage I", it, f"iter{it}-{variant}", f"iter {it}: {label}", items,
                             [right(q, a) for q, a in items]))
    return rows


def _vote_rows(base: Mapping, read: Mapping, grades: Mapping) -> list[dict]:
    """One row per question for the confidence figure: its confidence, decision and whether the majority is right."""
    rows = []
    for v in (read["votes"][1] if read["votes"] else []):
        grade = grades.get((v["id"], v["majority"])) if grades else None
        category = ("no majority answer" if not v["majority"] else "no gold" if grade is None
                    else "majority right" if grade else "majority wrong")
        rows.append({"exp": base["exp"], "seed": base["seed"], "weak": base["weak"], "id": v["id"],
                     "confidence": float(v["confidence"]), "decision": v["decision"], "category": category})
    return rows


def data_quality(gold_paths: Mapping[str, str], layout: Mapping[str, Mapping[str, Mapping]], task: str, exp: str = ""
                 ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Label quality of every training set, per seed, against that seed's train_2 gold.

    ``layout[seed][weak]`` = ``{"iterations": {"1": {"weak": answers.jsonl, "icl": answers.jsonl,
    "sets": {"weak"|"icl"|"hybrid": sft set}, "filter": filter.json}, ...}, "votes": path|None,
    "pairs": path|None}``; ``gold_paths[seed]`` the train_2 gold. Returns (table, votes with their
    confidence, decision and whether the majority is right)."""
    read = {(seed, weak): _read_weak(parts, task)
            for seed, by_weak in layout.items() for weak, parts in by_weak.items()}
    pair_kinds = _ordered(p["kind"] for r in read.values() if r["pairs"] for p in r["pairs"][1])
    rows, votes_rows = [], []
    for seed in layout:
        gold = read_gold(gold_paths[seed])
        answers = [a for (s, _), r in read.items() if s == seed for a in _all_answers(r)]
        grades = grade_against_gold(gold, answers, task)
        if any(g is None for g in grades.values()):
            log.warning("%s: some questions have an empty gold answer; their answers count as not right",
                        gold_paths[seed])

        def right(qid: str, answer: str) -> bool:
            return bool(grades[(qid, answer)])

        for weak in layout[seed]:
            base = {"exp": exp, "seed": int(seed), "weak": weak, "questions": len(gold)}
            r = read[(seed, weak)]
            rows += _stage1_rows(base, r, right) + _stage2_rows(base, r, right, pair_kinds)
            votes_rows += _vote_rows(base, r, grades)
    columns = list(DQ_SCHEMA)
    return (pl.DataFrame([{c: row[c] for c in columns} for row in rows], schema=DQ_SCHEMA),
            pl.DataFrame(votes_rows, schema=VOTES_SCHEMA))


def _seed_text(seeds: Sequence[int]) -> str:
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"mean over seeds {', '.join(map(str, seeds))}"


def _display_rows(part: pl.DataFrame, n_seeds: int) -> tuple[list[list[str]], set[int]]:
    """One weak model's rows: one seed's numbers, or the mean over seeds (right %: ± sd)."""
    rows, rules, last = [], set(), None
    keys = part.select("stage", "iteration", "set", "label").unique(maintain_order=True)
    for i, k in enumerate(keys.iter_rows(named=True)):
        if (k["stage"], k["iteration"]) != last:
            rules.add(i)
            last = (k["stage"], k["iteration"])
        cells = part.filter(pl.col("set") == k["set"])
        if n_seeds == 1:
            r = cells.row(0, named=True)
            rows.append([r["label"], str(r["size"]), num(r["coverage"], ".1f"), num(r["right_pct"], ".1f"),
                         num(r["chosen_right_pct"], ".1f", ""), num(r["rejected_wrong_pct"], ".1f", "")])
            continue
        s = {c: spread(cells[c].to_list()) for c in ("size", "coverage", "right_pct", "chosen_right_pct",
                                                     "rejected_wrong_pct")}
        right = num(s["right_pct"]["mean"], ".1f")
        right += f" ± {num(s['right_pct']['sd'], '.1f')}" if s["right_pct"]["count"] > 1 else ""
        rows.append([k["label"], num(s["size"]["mean"], ".1f"), num(s["coverage"]["mean"], ".1f"), right,
                     num(s["chosen_right_pct"]["mean"], ".1f", ""), num(s["rejected_wrong_pct"]["mean"], ".1f", "")])
    return rows, rules


def data_quality_displays(df: pl.DataFrame, exp: str = "", grading_mode: str = "") -> list[Display]:
    """One display per weak model (the mean over seeds when there are several)."""
    displays = []
    seeds = sorted(set(df["seed"].to_list()))
    for weak in df["weak"].unique(maintain_order=True).to_list():
        part = df.filter(pl.col("weak") == weak)
        rows, rules = _display_rows(part, len(seeds))
        questions = ", ".join(map(str, sorted(set(part["questions"].to_list())))) or "0"
        notes = (f"Right (%): share of the set's answers that are equivalent to the held-back train_2 gold "
                 f"({questions} questions; an empty answer is wrong). Coverage: share of train_2 questions in "
                 "the set. Pairs: right = chosen answer right and rejected answer wrong. Majority vote: M_plus's "
                 "most common answer over its n samples; its rows by kind follow the decision stage II recorded "
                 "for each question (votes.jsonl), and the pairs' rows their recorded kind. "
                 f"Numbers of {_seed_text(seeds)}"
                 + ("; right %: mean ± sample sd across seeds; every seed's rows are in the CSV. " if len(seeds) > 1
                    else ". ")
                 + f"Grading mode: {grading_mode} (how the consistency filter and the vote grouped answers).")
        displays.append(Display(title=f"{exp}: label quality with weak model {weak}",
                                columns=["set", "size", "coverage %", "right %", "chosen right %", "rejected wrong %"],
                                rows=rows, align="lrrrrr", rules_before=rules, notes=notes,
                                label=f"tab:w2s-{exp}-{weak}-data"))
    return displays


def _layout_paths(layout: Mapping) -> list[str]:
    paths = []
    for by_weak in layout.values():
        for parts in by_weak.values():
            for files in parts["iterations"].values():
                paths += [files["weak"], files["icl"], *files["sets"].values()]
                paths += [files["filter"]] if files.get("filter") else []
            paths += [parts[k] for k in ("votes", "pairs") if parts.get(k)]
    return paths


def gold_by_seed(gold_paths: str | Sequence[str], seeds: Sequence[str]) -> dict[str, str]:
    """One train_2 gold for every seed, or one per seed (in the order of the seeds). A rule's named
    input of one file is a plain string, of several a list: both are accepted."""
    paths = [gold_paths] if isinstance(gold_paths, (str, Path)) else list(gold_paths)
    if len(paths) == 1:
        return {s: str(paths[0]) for s in seeds}
    if len(paths) != len(seeds):
        raise ValueError(f"{len(paths)} train_2 gold files for {len(seeds)} seeds; give one, or one per seed")
    return {s: str(p) for s, p in zip(seeds, paths)}


def build_data_quality(gold_paths: str | Sequence[str], layout: Mapping[str, Mapping[str, Mapping]],
                       outputs: Mapping[str, str], *, exp: str, task: str, grading_mode: str,
                       config_hash: str | None = None, settings: Mapping | None = None,
                       repo_dir: str | Path | None = None) -> pl.DataFrame:
    """Data-quality table (csv: one row per seed and set, md, tex, html), set size vs label accuracy
    figure (figure_png, figure_pdf) and provenance."""
    check_outputs(outputs, ("csv", "md", "tex", "html", "figure_png", "figure_pdf", "provenance"))
    golds = gold_by_seed(gold_paths, list(layout))
    df, _ = data_quality(golds, layout, task, exp)
    seeds = sorted(int(s) for s in layout)
    heading = f"{exp}: how right each training set is ({_seed_text(seeds)}; grading mode {grading_mode})"
    write_renderings(outputs, df, data_quality_displays(df, exp, grading_mode), heading)
    title = f"{exp}: set size vs label accuracy" + (f" ({len(seeds)} seeds)" if len(seeds) > 1 else "")
    data_quality_figure(df, outputs["figure_png"], outputs["figure_pdf"], title=title)
    write_provenance(outputs["provenance"], table="data_quality", exp=exp,
                     inputs=[*sorted(set(golds.values())), *_layout_paths(layout)],
                     outputs=[v for k, v in outputs.items() if k != "provenance"],
                     settings={"task": task, "stage2": "decisions and pair kinds as recorded in votes.jsonl and "
                                                       "pairs.jsonl", **(settings or {})},
                     graders=[grading.GRADER_ID], grading_mode=grading_mode, seeds=seeds, config_hash=config_hash,
                     repo_dir=repo_dir)
    return df


def build_confidence_figure(gold_paths: str | Sequence[str] | None, votes_layout: Mapping[str, Mapping[str, str]],
                            outputs: Mapping[str, str], *, exp: str, task: str, n_samples: int, tau: float,
                            flip_threshold: float) -> pl.DataFrame:
    """Histogram of the stage II vote confidence per weak model (outputs png, pdf), stacked by whether
    the majority is right; without train_2 gold (``gold_paths`` empty), by stage II's recorded decision."""
    check_outputs(outputs, ("png", "pdf"))
    seeds = list(votes_layout)
    golds = gold_by_seed(gold_paths, seeds) if gold_paths else {}
    rows = []
    for seed in seeds:
        gold = read_gold(golds[seed]) if golds else None
        for weak, path in votes_layout[seed].items():
            read = {"votes": (str(path), read_votes(path))}
            grades = grade_against_gold(gold, ((v["id"], v["majority"], str(path)) for v in read["votes"][1]
                                               if v["majority"]), task) if gold is not None else {}
            rows += _vote_rows({"exp": exp, "seed": int(seed), "weak": weak}, read, grades)
    votes = pl.DataFrame(rows, schema=VOTES_SCHEMA)
    n_seeds = f" ({len(seeds)} seeds)" if len(seeds) > 1 else ""
    if golds:
        present = set(votes["category"].to_list())
        categories = [c for c in MAJORITY_CATEGORIES if c in present or c != "no gold"]
        confidence_figure(votes, categories, n_samples, tau, flip_threshold, outputs["png"], outputs["pdf"],
                          title=f"{exp}: confidence of M_plus's votes{n_seeds}")
    else:  # no gold: say nothing about right or wrong, only what stage II decided
        decisions = _ordered(votes["decision"].to_list())
        votes = votes.with_columns(pl.col("decision").replace_strict({d: _decision_label(d) for d in decisions},
                                                                     return_dtype=pl.String).alias("category"))
        confidence_figure(votes, [_decision_label(d) for d in decisions], n_samples, tau, flip_threshold,
                          outputs["png"], outputs["pdf"],
                          title=f"{exp}: confidence of M_plus's votes by stage II's decision "
                                f"(no train_2 gold){n_seeds}")
    return votes
