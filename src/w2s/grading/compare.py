"""Equivalence of two normalised answers: a fast exact layer, typed OlympicArena rules, and
bounded symbolic checks (math-verify in a worker process) for everything else.

A ``Checker`` carries the time budget of one comparison. In "fast only" mode it raises
``NeedSymbolic`` instead of calling a worker, so a batch can first settle every item the fast
layer can decide (nearly all of GSM8K) and then send only the rest to the worker pool.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from fractions import Fraction

from . import sandbox
from .normalize import decimal_places, is_scientific, nesting_depth, normalize, split_top_level, to_number

log = logging.getLogger("w2s.grading")

MAX_SYMBOLIC_CHARS = 1000  # longer answers are refused before any parser sees them
MAX_NESTING = 24  # deeper bracket nesting is refused (the ANTLR parser slows down sharply)
APPROX_MIN_PLACES = 4  # a decimal with >= this many places may approximate an exact value
NV_ABS_TOL = 1e-5 * 1.01  # OlympicArena judge: absolute tolerance for numerical values
NV_SCI_MANTISSA_TOL = 0.1 * 1.01  # OlympicArena judge: mantissa tolerance in scientific notation

TYPE_CODES = ("SC", "MC", "TF", "NV", "SET", "IN", "EX", "EQ", "TUP", "MPV", "MA")
_TYPE_NAMES = {
    "single choice": "SC", "multiple choice": "MC", "true/false": "TF", "true or false": "TF",
    "numerical value": "NV", "numeric value": "NV", "set": "SET", "interval": "IN",
    "expression": "EX", "equation": "EQ", "tuple": "TUP", "multiple part value": "MPV",
    "multi-part value": "MPV", "multiple answers": "MA",
}


class NeedSymbolic(Exception):
    """Raised in fast-only mode where a symbolic check would be needed."""


class Checker:
    """Time budget and worker limit for one comparison; ``sym`` runs a bounded symbolic op."""

    def __init__(self, timeout: float = 5.0, limit: int | None = None, fast_only: bool = False):
        self.timeout = float(timeout)
        self.limit = limit
        self.fast_only = fast_only
        self.deadline: float | None = None

    def start(self) -> "Checker":
        self.deadline = time.monotonic() + self.timeout
        return self

    def sym(self, op: str, a: str, b: str = ""):
        if self.fast_only:
            raise NeedSymbolic()
        for s in (a, b):
            if len(s) > MAX_SYMBOLIC_CHARS or nesting_depth(s) > MAX_NESTING:
                log.warning(
                    "grading: answer too large or too deeply nested for a symbolic check (%d chars); counted as not equal: %r",
                    len(s), s[:200],
                )
                return None
        deadline = self.deadline if self.deadline is not None else time.monotonic() + self.timeout
        remaining = deadline - time.monotonic()
        if remaining <= 0.01:
            log.warning("grading: time budget of %.1f s used up; counted as not equal: %r vs %r", self.timeout, a[:200], b[:200])
            return None
        reply = sandbox.call(op, a, b, timeout=remaining, limit=self.limit)
        return None if reply is None else reply.get("result")


# ---------------------------------------------------------------------------------------------
# numbers


def numbers_equal(a: str, b: str, x: Fraction, y: Fraction) -> bool:
    """Exact rational equality; a decimal written with >= APPROX_MIN_PLACES places (on every side
    that is a decimal) also matches a value it rounds or truncates to (0.3333 ~ 1/3)."""
    if x == y:
        return True
    places = [k for k in (decimal_places(a), decimal_places(b)) if k is not None]
    if places and min(places) >= APPROX_MIN_PLACES:
        return abs(x - y) < Fraction(1, 10 ** min(places))
    return False


def _value(s: str, ck: Checker) -> Fraction | None:
    v = to_number(s)
    if v is None:
        got = ck.sym("value", s)
        v = to_number(got) if isinstance(got, str) else None
    return v


def nv_equal(gold: str, pred: str, ck: Checker) -> bool:
    """OlympicArena numerical value: when either side is written in scientific notation, the
    same power of ten and mantissas within 0.101; otherwise |p - g| <= 1.01e-5. Closed forms
    such as 2^5 or \\log_2 7 are evaluated by the symbolic worker."""
    if gold == pred:
        return True
    g, p = _value(gold, ck), _value(pred, ck)
    if g is None or p is None:
        return bool(ck.sym("verify", gold, pred))
    if g == p:
        return True
    if (is_scientific(gold) or is_scientific(pred)) and g != 0 and p != 0:
        # Scientific notation states its own precision: the absolute tolerance would make
        # 6.67e-11 equal 6.67e-10, so here only the exponent-and-mantissa rule applies.
        eg, ep = _exponent10(g), _exponent10(p)
        return eg == ep and abs(g - p) / Fraction(10) ** eg <= Fraction(NV_SCI_MANTISSA_TOL)
    return abs(g - p) <= Fraction(NV_ABS_TOL)


def _exponent10(x: Fraction) -> int:
    """floor(log10(|x|)) exactly (floats would misplace 1000 at 2.9999...)."""
    x = abs(x)
    e = math.floor(math.log10(x.numerator) - math.log10(x.denominator))
    while Fraction(10) ** e > x:
        e -= 1
    while Fraction(10) ** (e + 1) <= x:
        e += 1
    return e


# ---------------------------------------------------------------------------------------------
# generic equivalence (GSM8K, MATH, OlympicArena without a type)


def equal(gold: str, pred: str, task: str, ck: Checker) -> bool:
    """Gold-first equivalence of two normalised answers."""
    if not gold or not pred:
        return False
    if gold == pred:
        return True
    g, p = to_number(gold), to_number(pred)
    if g is not None and p is not None:
        return numbers_equal(gold, pred, g, p)
    if task == "gsm8k" and g is not None and _not_a_number(pred):
        return False
    if (g is not None and _compound(pred)) or (p is not None and _compound(gold)):
        return False
    return bool(ck.sym("verify", gold, pred))


def _compound(s: str) -> bool:
    """A tuple, interval, set, list, union or matrix: never equal to a single number. (Asking
    math-verify costs up to half a second for such mismatched pairs, and the answer is no.)"""
    if "\\cup" in s or "\\begin{" in s:
        return True
    inner = s
    if s[:2] == "\\{" and s[-2:] == "\\}":
        inner = s[2:-2]
    elif len(s) >= 2 and s[0] in "([" and s[-1] in ")]":
        inner = s[1:-1]
    return len(split_top_level(inner)) >= 2


def _not_a_number(s: str) -> bool:
    """GSM8K: an answer with no digit, or with words in it ("1 hour,45 minutes", "2 hours 30
    minutes"), is not a number, so it cannot equal a numeric gold (no symbolic check needed)."""
    if not re.search(r"[0-9]", s):
        return True
    return bool(re.search(r"[A-Za-z]{2,}", re.sub(r"\\[A-Za-z]+", " ", s)))


def match(a: str, b: str, task: str, ck: Checker) -> bool:
    """Symmetric equivalence of two model answers (both directions of the gold-first check)."""
    if not a or not b:
        return False
    if a == b:
        return True
    x, y = to_number(a), to_number(b)
    if x is not None and y is not None:
        return numbers_equal(a, b, x, y)
    if task == "gsm8k" and ((x is not None and _not_a_number(b)) or (y is not None and _not_a_number(a))):
        return False
    if (x is not None and _compound(b)) or (y is not None and _compound(a)):
        return False
    return bool(ck.sym("match", a, b))


# ---------------------------------------------------------------------------------------------
# OlympicArena answer types


def parse_answer_type(answer_type: str | None) -> tuple[str | None, list[str | None]]:
    """"NV" -> ("NV", []); "MPV:NV,EX" or "MPV(NV, EX)" -> ("MPV", ["NV", "EX"]); verbose
    names ("Numerical value") are accepted. Unknown codes raise ValueError."""
    if answer_type is None or not str(answer_type).strip():
        return None, []
    text = str(answer_type).strip()
    m = re.fullmatch(r"\s*([A-Za-z/ -]+?)\s*(?:[:(]\s*(.*?)\s*\)?)?\s*", text)
    head = m.group(1) if m else text
    seq_text = m.group(2) if m else ""

    def code(name: str) -> str:
        c = name.strip()
        c = _TYPE_NAMES.get(c.lower(), c.upper())
        if c not in TYPE_CODES:
            raise ValueError(
                f"unknown OlympicArena answer type {name!r} (in {answer_type!r}); expected one of "
                f"{', '.join(TYPE_CODES)} (or 'MPV:NV,EX' with a type sequence)"
            )
        return c

    head_code = code(head)
    seq = [code(t) for t in re.split(r"[,\s]+", seq_text) if t] if seq_text else []
    return head_code, seq


def gold_list(gold, split: bool) -> list[str]:
    """Gold answers as a list: a list stays a list, a JSON list of strings is decoded (safely, by
    ``json``), otherwise the string is split at top-level commas when ``split``. A bracketed list
    of numbers ("[0,1]") stays text: it is a closed interval or a tuple, not two answers."""
    if isinstance(gold, (list, tuple)):
        return [str(g) for g in gold]
    text = str(gold).strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, list) and decoded and all(isinstance(x, str) for x in decoded):
            return [str(x) for x in decoded]
    return split_top_level(text) if split else [text]


_CHOICE_TOKEN = re.compile(r"^[\[(]?([A-Z])(?:[\])]|[:.]|$)")


def choice_letters(s: str) -> list[str]:
    """"A", "(B)", "C: text", "A, C", "AC" -> letters; anything else -> []."""
    s = s.strip().strip("[]").strip()
    if re.fullmatch(r"[A-Z]{2,10}", s):
        return list(s)
    tokens = [t for t in re.split(r"\s*(?:,|\band\b|;)\s*", s) if t]
    letters = []
    for t in tokens:
        m = _CHOICE_TOKEN.match(t.strip())
        if not m:
            return []
        letters.append(m.group(1))
    return letters


def _strip_set_braces(s: str) -> str:
    s = s.strip()
    if s.startswith("\\{") and s.endswith("\\}"):
        return s[2:-2]
    if s.startswith("{") and s.endswith("}"):
        return s[1:-1]
    return s


def _strip_parens(s: str) -> str:
    s = s.strip()
    return s[1:-1] if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" else s


def _elem_equal(gold: str, pred: str, kind: str | None, ck: Checker) -> bool:
    gold, pred = normalize(gold), normalize(pred)
    if kind is None:
        kind = "NV" if to_number(gold) is not None else None
    if kind is None:
        return equal(gold, pred, "olympicarena", ck)
    return typed_equal(gold, pred, kind, [], ck)


def _matching(golds: list[str], preds: list[str], kinds: list[str | None], ck: Checker) -> bool:
    """Unordered one-to-one matching, greedy in gold order (as the OlympicArena judge)."""
    if len(golds) != len(preds):
        return False
    free = list(range(len(preds)))
    for g, kind in zip(golds, kinds):
        hit = next((j for j in free if _elem_equal(g, preds[j], kind, ck)), None)
        if hit is None:
            return False
        free.remove(hit)
    return True


def _intervals(s: str) -> list[tuple[str, str, str, str]] | None:
    pieces = []
    for part in re.split(r"\\cup|∪", s):
        part = part.strip()
        if len(part) < 5 or part[0] not in "([" or part[-1] not in ")]":
            return None
        bounds = split_top_level(part[1:-1])
        if len(bounds) != 2:
            return None
        pieces.append((part[0], bounds[0], bounds[1], part[-1]))
    return pieces


def _bound_equal(g: str, p: str, ck: Checker) -> bool:
    g, p = g.replace("+\\infty", "\\infty"), p.replace("+\\infty", "\\infty")
    if g == p:
        return True
    if "\\infty" in g or "\\infty" in p:
        return False
    return _elem_equal(g, p, None, ck)


def typed_equal(gold, pred: str, kind: str, seq: list[str | None], ck: Checker) -> bool:
    """One OlympicArena answer type; see the package docstring for the rules. Long on purpose:
    one branch per answer type, each a few lines, read best side by side."""
    if not pred:
        return False
    if kind in ("SC", "MC"):
        wanted = [c for g in gold_list(gold, split=True) for c in (choice_letters(normalize(g)) or [g.strip()])]
        got = choice_letters(pred)
        if kind == "SC":
            return len(got) == 1 and len(wanted) == 1 and got[0] == wanted[0]
        return bool(got) and len(got) == len(set(got)) and set(got) == set(wanted)
    if kind == "TF":
        g = normalize(gold_list(gold, split=False)[0]).lower()
        return pred.strip().lower() in ("true", "false") and pred.strip().lower() == g
    if kind in ("SET", "MA"):
        golds = gold_list(gold, split=True)
        if len(golds) == 1:
            golds = split_top_level(_strip_set_braces(normalize(golds[0])))
        preds = split_top_level(_strip_set_braces(pred))
        # SET elements are numbers in OlympicArena (no type: numeric rule when the gold element
        # is a number, generic equivalence otherwise); MA elements follow the type sequence.
        kinds = (list(seq) + [None] * len(golds))[: len(golds)] if kind == "MA" else [None] * len(golds)
        return _matching(golds, preds, kinds, ck)
    if kind in ("TUP", "MPV"):
        golds = gold_list(gold, split=True)
        if len(golds) == 1:
            golds = split_top_level(_strip_parens(normalize(golds[0])))
        preds = split_top_level(_strip_parens(pred) if kind == "TUP" else pred)
        if len(golds) != len(preds):
            return False
        kinds = (list(seq) + [None] * len(golds))[: len(golds)] if kind == "MPV" else [None] * len(golds)
        return all(_elem_equal(g, p, k, ck) for g, p, k in zip(golds, preds, kinds))
    g = normalize(gold_list(gold, split=False)[0])
    if kind == "NV":
        if len(split_top_level(pred)) > 1:
            return False  # several values where one is asked (the judge's comma rule)
        return nv_equal(g, pred, ck)
    if kind == "IN":
        gi, pi = _intervals(g), _intervals(pred)
        if gi is None or pi is None or len(gi) != len(pi):
            return equal(g, pred, "olympicarena", ck)
        free = list(range(len(pi)))
        for lo_b, lo, hi, hi_b in gi:
            hit = next(
                (j for j in free if pi[j][0] == lo_b and pi[j][3] == hi_b
                 and _bound_equal(lo, pi[j][1], ck) and _bound_equal(hi, pi[j][2], ck)),
                None,
            )
            if hit is None:
                return False
            free.remove(hit)
        return True
    if kind == "EX":
        # "v = \sqrt{2gh}" is graded by its right-hand side, as the judge does.
        g_rhs, p_rhs = g.split("=")[-1].strip(), pred.split("=")[-1].strip()
        return equal(g_rhs, p_rhs, "olympicarena", ck)
    if kind == "EQ":
        if g == pred:
            return True
        if "=" not in g or "=" not in pred:
            return False
        return bool(ck.sym("equation", g, pred))
    raise ValueError(f"unhandled answer type {kind!r}")


def olympic_equal(gold, pred: str, answer_type: str | None, ck: Checker) -> bool:
    kind, seq = parse_answer_type(answer_type)
    if kind is None:
        # No type given: the structure of the gold decides (true/false, a choice letter, a number).
        golds = gold_list(gold, split=False)
        g = normalize(golds[0]) if len(golds) == 1 else ""
        if len(golds) > 1:
            return typed_equal(golds, pred, "MA", [], ck)
        if g in ("True", "False"):
            return typed_equal(g, pred, "TF", [], ck)
        if re.fullmatch(r"[A-Z]", g):
            return typed_equal(g, pred, "SC", [], ck)
        if to_number(g) is not None and to_number(pred) is not None:
            return nv_equal(g, pred, ck)
        return equal(g, pred, "olympicarena", ck)
    return typed_equal(gold, pred, kind, seq, ck)
