"""Rendering of the tables: tidy CSV, and Markdown, LaTeX (booktabs) and HTML for reading.

A ``Display`` is a table ready to render (string cells, column groups, rules between row groups,
notes); every renderer writes the same cells. CSV floats keep 4 places and NaN is an empty field,
so that a file is stable and diff-friendly.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ..io import atomic_path


@dataclass
class Display:
    """A table ready to render: string cells, optional column groups, rules between row groups."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    align: str  # one of l / r per column
    groups: list[tuple[str, int]] = field(default_factory=list)  # spanning header over columns 1..
    rules_before: set[int] = field(default_factory=set)
    notes: str = ""
    label: str = ""


def display_frame(display: Display) -> pl.DataFrame:
    """The displayed cells as a polars frame (column names made unique)."""
    names = [f"{c} [{i}]" if display.columns.count(c) > 1 else c for i, c in enumerate(display.columns)]
    return pl.DataFrame(display.rows, schema=dict.fromkeys(names, pl.String), orient="row")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(displays: Sequence[Display], heading: str) -> str:
    out = [f"# {heading}", ""]
    for d in displays:
        frame = display_frame(d)
        columns = d.columns
        if d.groups:  # Markdown has no spanning headers: prefix the group name
            spans = []
            for name, span in d.groups:
                spans += [name] * span
            columns = [columns[0]] + [f"{g}: {c}" for g, c in zip(spans, columns[1:])]
        out += [f"## {d.title}", "", "| " + " | ".join(map(_md_cell, columns)) + " |",
                "|" + "|".join("---:" if a == "r" else "---" for a in d.align) + "|"]
        out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in frame.rows()]
        if d.notes:
            out += ["", d.notes]
        out.append("")
    return "\n".join(out)


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "–": "--",
                "≥": r"$\geq$", "—": "---", "±": r"$\pm$", "−": "$-$"}


def tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(displays: Sequence[Display], heading: str) -> str:
    out = [f"% {heading}", "% Needs \\usepackage{booktabs}. Written by the workflow (w2s.report): do not edit.", ""]
    for d in displays:
        frame = display_frame(d)
        out += ["\\begin{table}[t]", "\\centering", "\\small", f"\\caption{{{tex_escape(d.title)}}}"]
        if d.label:
            out.append(f"\\label{{{d.label}}}")
        out += [f"\\begin{{tabular}}{{{d.align}}}", "\\toprule"]
        if d.groups:
            cells, rules, col = [""], [], 2
            for name, span in d.groups:
                cells.append(f"\\multicolumn{{{span}}}{{c}}{{{tex_escape(name)}}}")
                rules.append(f"\\cmidrule(lr){{{col}-{col + span - 1}}}")
                col += span
            out += [" & ".join(cells) + " \\\\", " ".join(rules)]
        out += [" & ".join(map(tex_escape, d.columns)) + " \\\\", "\\midrule"]
        for i, row in enumerate(frame.rows()):
            if i in d.rules_before and i > 0:
                out.append("\\midrule")
            out.append(" & ".join(map(tex_escape, row)) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}"]
        if d.notes:
            out.append(f"\\par\\smallskip\\footnotesize {tex_escape(d.notes)}")
        out += ["\\end{table}", ""]
    return "\n".join(out)


_HTML_STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 0.3em 0;font-size:0.9em}
th,td{padding:0.25em 0.7em}thead th{border-bottom:1px solid #444}
table{border-top:2px solid #222;border-bottom:2px solid #222}
tr.rule td{border-top:1px solid #999}td.r,th.r{text-align:right}td.l,th.l{text-align:left}
p.notes{font-size:0.85em;color:#555;max-width:60em}"""


def to_html(displays: Sequence[Display], heading: str) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(heading)}</title>",
           f"<style>{_HTML_STYLE}</style></head><body>", f"<h1>{e(heading)}</h1>"]
    for d in displays:
        frame = display_frame(d)
        out += [f"<h2>{e(d.title)}</h2>", "<table>", "<thead>"]
        if d.groups:
            out.append("<tr><th></th>" + "".join(f'<th colspan="{s}">{e(n)}</th>' for n, s in d.groups) + "</tr>")
        out.append("<tr>" + "".join(f'<th class="{a}">{e(c)}</th>' for c, a in zip(d.columns, d.align)) + "</tr>")
        out += ["</thead>", "<tbody>"]
        for i, row in enumerate(frame.rows()):
            cls = ' class="rule"' if i in d.rules_before and i > 0 else ""
            out.append(f"<tr{cls}>" + "".join(f'<td class="{a}">{e(c)}</td>' for c, a in zip(row, d.align)) + "</tr>")
        out += ["</tbody>", "</table>"]
        if d.notes:
            out.append(f'<p class="notes">{e(d.notes)}</p>')
    out += ["</body></html>", ""]
    return "\n".join(out)


def num(x, fmt: str, missing: str = "–") -> str:
    """A number formatted, or ``missing`` for None and NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return missing
    return format(x, fmt)


# ---------------------------------------------------------------- CSV
def _csv_ready(df: pl.DataFrame) -> pl.DataFrame:
    """NaN becomes an empty field, floats keep 4 places: a stable, diff-friendly file."""
    return df.with_columns(pl.col(pl.Float64).fill_nan(None).round(4))


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_csv(path: str | Path, df: pl.DataFrame) -> None:
    with atomic_path(path) as tmp:
        _csv_ready(df).write_csv(tmp, float_precision=4)


def write_renderings(outputs: Mapping[str, str], frame: pl.DataFrame, displays: Sequence[Display],
                     heading: str) -> None:
    """The CSV of ``frame`` and the displays as Markdown, LaTeX and HTML, under the outputs' names."""
    write_csv(outputs["csv"], frame)
    write_text(outputs["md"], to_markdown(displays, heading))
    write_text(outputs["tex"], to_latex(displays, heading))
    write_text(outputs["html"], to_html(displays, heading))


def check_outputs(outputs: Mapping[str, str], needed: Sequence[str]) -> None:
    """A rule must name every output a builder writes (a workflow bug otherwise)."""
    missing = [k for k in needed if k not in outputs]
    if missing:
        raise ValueError(f"outputs {missing} are not named; the rule must name {list(needed)}")
