"""Grading mode ``paper``: the decisions of the paper's own code, reimplemented safely.

Sources, read and reimplemented in our words (no code copied): GAIR-NLP/weak-to-strong-reasoning
``src/eval/evaluation.py`` and ``src/eval/math_normalization.py`` (GSM8K, MATH) and
``src/construct_training_data.py`` (filter and vote compare those normalised strings);
GAIR-NLP/OlympicArena ``code/judge.py`` (``Judger.auto_judge``), which the paper's README names
for OlympicArena consistency and accuracy.

GSM8K and MATH (``paper_answer``, ``paper_correct``)
    1. Cut the response before its first "Question" and strip it.
    2. Only the LAST line is searched: the first "<key> " on it (key ``####`` or
       ``The answer is:``) and everything after it is the answer. The released regex has no
       multiline flag, so a key on an earlier line is never found.
    3. Failing that, the first number after the first "The answer is " on the last line
       (commas dropped, a trailing "." removed).
    4. If "</s>" occurs in it, its last four characters are dropped (as released).
    5. The released normaliser: keep what follows the last "=", apply its substitution list
       ("a "/"an " removed, spaces removed, ...), delete its list of unit words, take the first
       ``$...$`` group, unwrap ``\\text``/``\\textbf``/``\\overline``/``\\boxed``, expand
       ``\\fracab``/``\\sqrta``, drop "$", "1,000" -> "1000", "3.0"/"3.00" -> "3", "5%" -> "5",
       a single letter a-g lower-cased.
    Correct = the normalised prediction equals the normalised gold as strings. The released
    code then tries a sympy check, but the released results show it never ran (antlr missing,
    the code then silently compares strings): all 7,000 released Llama2-7b GSM8K decisions
    equal the string match, while a working sympy check would flip 13 of them ("0.50" vs
    "0.5"). Filter and vote use the same normalised strings (an empty one never agrees).

OlympicArena (``judge``; the official rules, in order)
    - The answer is the content of the FIRST ``\\boxed{...}`` (balanced braces), normalised
      (``\\left``/``\\right``/``$``/``%``/``^\\circ`` dropped, ``\\approx``/``\\sim`` -> "=",
      ``\\text{}``/``\\mathrm{}``/``\\mathbf{}`` unwrapped, ``\\fracab`` expanded). With no box
      (or an empty one) the whole response is judged; an empty answer is wrong.
    - The answer type of the question is NOT used: with no ``type_sequence`` the answer passes
      if any of SC, MC, TF, NV, SET, IN, EX, EQ, TUP accepts it; with a type sequence it passes
      if MPV (parts in order) or MA (parts in any order) accepts it.
    - SC: equal strings, or "X: ..." with X the gold letter. MC: as many comma-separated parts
      as gold letters, the same set of letters (first capital of each part). TF: "True"/"False"
      equal to the gold. NV: equal strings; else |a - b| <= 1.01e-5 as Python floats; else the
      LaTeX values within 1.01e-5, or, when one side is written a\\times10^{b}, the same power
      of ten and mantissas within 0.101 (so 6.7e-9 "equals" 3.02e-7: the absolute tolerance
      comes first). SET: one-to-one NV matches. IN: unions of intervals, bracket types equal,
      bounds by EX. EX: the text after the first "=" on each side; numeric expressions by value
      (1.01e-5), expressions with variables only when written the same way (the judge's
      symbolic fallback never returns a Python bool, so it always fails; we compare the
      expressions' text without spaces). EQ: one "=" each, lhs - rhs differing by a nonzero
      integer factor. TUP: parts in order by NV.
    - Safety: no text is evaluated as code; LaTeX values come from the bounded symbolic worker
      (``sandbox``, deadline per check); answers over ``MAX_CHARS`` characters are wrong.

Known differences from running the official code (documented, tested on the fixture
``tests/fixtures/grading/olympicarena_judge.jsonl``, whose decisions come from the official
judge): the LaTeX parser is math-verify's (latex2sympy2), not sympy's ``parse_latex``; odd
inputs such as "1,2" inside an expression may parse differently. Agreement on the fixture is
100% and is checked by a test.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .compare import Checker

MAX_CHARS = 5000  # a longer extracted answer is wrong (bounds the regex work; never seen in real data)
NV_TOL = 1e-5 * 1.01
SCI_MANTISSA_TOL = 0.1 * 1.01
ANSWER_KEYS = {"gsm8k": "####", "math": "The answer is:"}

# ---------------------------------------------------------------------------------- GSM8K / MATH
# The released normaliser's two lists, in their order (order matters: "an " before "a ").
_SUBSTITUTIONS = (
    ("an ", ""), ("a ", ""), (".$", "$"), ("\\$", ""), ("\\ ", ""), ("\\%", "%"), (" ", ""),
    ("mbox", "text"), (",\\text{and}", ","), ("\\text{and}", ","), ("\\text{m}", "\\text{}"),
)
_REMOVED = (
    "square", "ways", "integers", "dollars", "mph", "inches", "ft", "hours", "km", "units",
    "\\ldots", "sue", "points", "feet", "minutes", "digits", "cents", "degrees", "cm", "gm",
    "pounds", "meters", "meals", "edges", "students", "childrentickets", "multiples", "\\text{s}",
    "\\text{.}", "\\text{\ns}", "\\text{}^2", "\\text{}^3", "\\text{\n}", "\\text{}", "\\mathrm{th}",
    "^\\circ", "^{\\circ}", "\\;", ",\\!", "{,}", '"', "\\dots",
)
_FIRST_MATH = re.compile(r"(.*?)(\$)(.*?)(\$)(.*)")
_UNWRAP = tuple(re.compile(p) for p in (r"(\\text\{)(.*?)(\})", r"(\\textbf\{)(.*?)(\})", r"(\\overline\{)(.*?)(\})"))
_BOXED_GREEDY = re.compile(r"(\\boxed\{)(.*)(\})")
_FRAC_SHORT = re.compile(r"(frac)([^{])(.)")
_SQRT_SHORT = re.compile(r"(sqrt)([^{])")
_NUMBER = re.compile(r"-?\d+\.?\d*")


def paper_normalize(answer) -> str:
    """The released ``normalize_final_answer`` (see the module docstring, step 5)."""
    s = str(answer).split("=")[-1]
    for old, new in _SUBSTITUTIONS:
        s = s.replace(old, new)
    for word in _REMOVED:
        s = s.replace(word, "")
    s = _FIRST_MATH.sub(lambda m: f"${m.group(3)}$", s)
    for pattern in _UNWRAP:
        s = pattern.sub(lambda m: m.group(2), s)
    s = _BOXED_GREEDY.sub(lambda m: m.group(2), s)
    s = _FRAC_SHORT.sub(lambda m: f"frac{{{m.group(2)}}}{{{m.group(3)}}}", s)
    s = _SQRT_SHORT.sub(lambda m: f"sqrt{{{m.group(2)}}}", s)
    s = s.replace("$", "")
    if s.replace(",", "").isdigit():
        s = s.replace(",", "")
    for tail in (".0", ".00"):
        if s.endswith(tail) and s[: -len(tail)].isdigit():
            s = s[: -len(tail)]
    if s.endswith("%") and s[:-1].isdigit():
        s = s[:-1]
    if s.lower() in ("a", "b", "c", "d", "e", "f", "g"):
        s = s.lower()
    return s


def _after_on_last_line(text: str, needle: str) -> str | None:
    """What follows the first ``needle`` on the last line of ``text`` (the released regexes
    ``needle (.*)$`` without a multiline flag can match nowhere else)."""
    last = text.rsplit("\n", 1)[-1]
    i = last.find(needle)
    return None if i < 0 else last[i + len(needle):]


def _raw_paper_answer(response: str, key: str) -> str:
    text = response.split("Question", 1)[0].strip()
    pred = _after_on_last_line(text, key + " ") or ""
    if pred == "":
        tail = _after_on_last_line(text, "The answer is ") or ""
        numbers = _NUMBER.findall(tail.replace(",", ""))
        pred = numbers[0] if numbers else ""
        if pred.endswith("."):
            pred = pred[:-1]
    if "</s>" in pred:
        pred = pred[:-4]
    return pred


def paper_answer(response: str, task: str) -> str:
    """The string the paper's filter and vote compare: the normalised extracted answer ("" when
    there is none). OlympicArena: the judge's normalised first boxed answer (or whole text)."""
    if task == "olympicarena":
        return judge_answer(response)
    raw = _raw_paper_answer(response, ANSWER_KEYS[task])
    return "" if len(raw) > MAX_CHARS else paper_normalize(raw)


# ---------------------------------------------------------------------------------- OlympicArena
_JUDGE_SUBSTITUTIONS = (
    ("\\left", ""), ("\\right", ""), ("∶", ":"), ("，", ","), ("$", ""), ("\\approx", "="), ("\\simeq", "="),
    ("\\sim", "="), ("^\\prime", "'"), ("^{\\prime}", "'"), ("^\\circ", ""), ("%", ""),
)
_JUDGE_UNWRAP = (
    (re.compile(r"\\(?:mathrm|mathbf)\{~?([^}]*)\}"), 1),
    (re.compile(r"(\\text\{)(.*?)(\})"), 2),
    (re.compile(r"(\\textbf\{)(.*?)(\})"), 2),
)
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SCI = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*(?:\\times|\\cdot)\s*10\s*\^\s*\{?\s*([+-]?\d+)\s*\}?\s*$")
_AUTO_TYPES = ("SC", "MC", "TF", "NV", "SET", "IN", "EX", "EQ", "TUP")


def judge_normalize(s: str) -> str:
    for old, new in _JUDGE_SUBSTITUTIONS:
        s = s.replace(old, new)
    for pattern, group in _JUDGE_UNWRAP:
        s = pattern.sub(lambda m, g=group: m.group(g), s)
    s = _FRAC_SHORT.sub(lambda m: f"frac{{{m.group(2)}}}{{{m.group(3)}}}", s)
    s = _SQRT_SHORT.sub(lambda m: f"sqrt{{{m.group(2)}}}", s)
    return s.strip().strip("$").strip()


def first_boxed_or_text(text: str) -> str:
    """Content of the first ``\\boxed{`` with balanced braces (normalised), else the text."""
    start = text.find("\\boxed{")
    if start < 0:
        return text
    i = start + len("\\boxed{")
    depth, j = 1, i
    while depth > 0 and j < len(text):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        j += 1
    if depth != 0 or j - 1 == i:
        return text
    return judge_normalize(text[i : j - 1])


def judge_answer(response: str) -> str:
    answer = judge_normalize(first_boxed_or_text(response))
    return "" if len(answer) > MAX_CHARS else answer


def split_by_comma(expr: str) -> list[str]:
    """Split at commas outside () and [] (braces do not count, as in the judge)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(expr):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(expr[start:i].strip())
            start = i + 1
    if start < len(expr):
        parts.append(expr[start:].strip())
    return [p.strip("$").strip() for p in parts]


_THOUSANDS = re.compile(r"\d,\d{3}(?!\d)")


_DIGIT_FRAC = re.compile(r"(\d)\s*(\\[dt]?frac)")


def _as_parse_latex_reads(text: str) -> str | None:
    """What sympy's ``parse_latex`` (used by the judge) reads of ``text``: at a comma outside
    brackets it stops ("1, 2" reads as 1; "2,000" as 2000), a comma inside brackets or braces
    is a parse error (None), e.g. "(1, 2)"; trailing periods are ignored ("True." reads as
    "True"); a number before a fraction multiplies it ("1\\frac{1}{2}" is 1/2, no mixed number)."""
    text = _DIGIT_FRAC.sub(lambda m: f"{m.group(1)} \\cdot {m.group(2)}", text.rstrip().rstrip(".").rstrip())
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == ",":
            if _THOUSANDS.match(text, max(0, i - 1)):
                continue
            if depth > 0 and not re.search(r"[A-Za-z]\($", text[: text.rfind("(", 0, i) + 1]):
                return None
            if depth == 0:
                return text[:i].strip() or None
    return text


class _Judge:
    """The type rules; a rule that the official code would abort with an exception returns
    False here (the judge catches every exception and counts it as "not this type")."""

    def __init__(self, ck: Checker):
        self.ck = ck
        self.rules = {"SC": self.single_choice, "MC": self.multi_choice, "TF": self.true_false,
                      "NV": self.numerical, "SET": self.set_, "IN": self.interval, "EX": self.expression,
                      "EQ": self.equation, "TUP": self.tuple_, "MPV": self.multi_part, "MA": self.multi_answer}

    def single_choice(self, pred, gold) -> bool:
        if pred == gold:
            return True
        if pred.startswith("[") and pred.endswith("]"):
            pred = pred.strip("[]")
        return len(pred) > 1 and pred[0] in _LETTERS and pred[1] == ":" and pred[0] == gold

    def multi_choice(self, pred, gold) -> bool:
        if pred.startswith("[") and pred.endswith("]"):
            pred = pred.strip("[]")
        parts = split_by_comma(pred)
        if len(parts) != len(gold):
            return False
        if all(p in _LETTERS for p in parts):
            return set(parts) == set(gold)
        letters = [next((c for c in p if c in _LETTERS), None) for p in parts]
        return {c for c in letters if c} == set(gold)

    def true_false(self, pred, gold) -> bool:
        return gold in ("True", "False") and pred in ("True", "False") and pred == gold

    def _sym(self, op: str, a, b):
        """A symbolic step in the worker; None when a side is not text, or on a timeout."""
        if not isinstance(a, str) or not isinstance(b, str):
            return None
        pa, pb = _as_parse_latex_reads(a), _as_parse_latex_reads(b)
        if pa is None or pb is None:
            return None
        return self.ck.sym(op, pa, pb)

    @staticmethod
    def _sci(s: str) -> tuple[float, int] | None:
        m = _SCI.match(s)
        return (float(m.group(1)), int(m.group(2))) if m else None

    def numerical(self, pred, gold) -> bool:
        if pred == gold:
            return True
        try:
            if abs(float(pred) - float(gold)) <= NV_TOL:
                return True
        except (TypeError, ValueError, OverflowError):
            pass
        reply = self._sym("oa_nv", pred, gold)
        if not reply or not reply.get("parsed") or reply.get("diff") is None:
            return False  # the judge's LaTeX step raised (no parse, or variables left)
        if reply["diff"] <= NV_TOL:
            return True
        sp, sg = self._sci(pred), self._sci(gold)
        if (sp is None) != (sg is None):
            try:  # the plain side is rewritten as d.dd x 10^e from its Python float
                plain = float(gold if sp is not None else pred)
            except (TypeError, ValueError, OverflowError):
                return False
            mantissa, exponent = f"{plain:.2e}".split("e")
            converted = (float(mantissa), int(exponent))
            sp, sg = (sp, converted) if sp is not None else (converted, sg)
        if sp is not None and sg is not None:
            return sp[1] == sg[1] and abs(sp[0] - sg[0]) <= SCI_MANTISSA_TOL
        return bool(reply["equal"])

    def set_(self, pred, gold) -> bool:
        if not isinstance(gold, list):
            return False
        preds = split_by_comma(pred)
        if len(preds) != len(gold):
            return False
        for g in gold:
            hit = next((p for p in preds if self.numerical(p, g)), None)
            if hit is None:
                return False
            preds.remove(hit)
        return True

    @staticmethod
    def _intervals(text: str) -> list[tuple[tuple[str, ...], str]]:
        out = []
        for part in text.split("\\cup"):
            part = part.strip()
            kind = ("open_left" if part.startswith("(") else "closed_left") + (
                "_open_right" if part.endswith(")") else "_closed_right")
            out.append((tuple(part.strip("()[]").split(",")), kind))
        return out

    def interval(self, pred, gold) -> bool:
        if not isinstance(gold, str):
            return False
        mine, theirs = self._intervals(pred), self._intervals(gold)
        if len(mine) != len(theirs):
            return False
        for bounds, kind in mine:
            hit = None
            for other in theirs:
                if other[1] != kind:
                    continue
                first = self._expression_or_error(bounds[0], other[0][0])
                if first is None:
                    return False  # the judge's expression rule raised: not an interval
                if not first:
                    continue
                if len(bounds) < 2 or len(other[0]) < 2:
                    return False  # the judge indexes a missing bound: an exception, so not IN
                second = self._expression_or_error(bounds[1], other[0][1])
                if second is None:
                    return False
                if second:
                    hit = other
                    break
            if hit is None:
                return False
            theirs.remove(hit)
        return True

    def _expression_or_error(self, pred: str, gold: str) -> bool | None:
        """The judge's expression rule; None where it would raise (a side does not parse)."""
        def rhs(e: str) -> str:
            return (e.split("=")[1] if "=" in e else e).strip()

        reply = self._sym("oa_ex", rhs(pred), rhs(gold))
        if not reply or not reply.get("parsed"):
            return None
        if reply["same"]:
            return True
        vars_a, vars_b = reply["vars"]
        if vars_a != vars_b:
            return False
        if not vars_a:
            a, b = reply["values"]
            return a is not None and b is not None and (a == b or abs(a - b) <= NV_TOL)
        return False  # both with variables and not the same: the judge's fallback always fails

    def expression(self, pred, gold) -> bool:
        if not isinstance(gold, str):
            return False
        return bool(self._expression_or_error(pred, gold))

    def equation(self, pred, gold) -> bool:
        if not isinstance(gold, str) or pred.count("=") != 1 or gold.count("=") != 1:
            return False
        return bool(self.ck.sym("oa_equation", pred, gold))

    def tuple_(self, pred, gold) -> bool:
        if not isinstance(gold, str):
            return False
        preds, golds = split_by_comma(pred.strip("()")), split_by_comma(gold.strip("()"))
        return len(preds) == len(golds) and all(self.numerical(p, g) for p, g in zip(preds, golds))

    def _parts(self, pred, gold) -> tuple[list[str], list[str]]:
        return [judge_normalize(p) for p in split_by_comma(pred)], [judge_normalize(g) for g in gold]

    def _part_rule(self, kind):
        """The rule for one part; MPV/MA parts (a type the judge would call with too few
        arguments) and unknown types never match."""
        return None if kind in ("MPV", "MA") else self.rules.get(kind)

    def multi_part(self, pred, gold, types: Sequence[str]) -> bool:
        preds, golds = self._parts(pred, gold)
        if len(preds) != len(golds) or len(types) < len(preds):
            return False
        for p, g, t in zip(preds, golds, types):
            rule = self._part_rule(t)
            if rule is None or not rule(p, g):
                return False
        return True

    def multi_answer(self, pred, gold, types: Sequence[str]) -> bool:
        preds, golds = self._parts(pred, gold)
        if len(preds) != len(golds) or len(types) < len(golds):
            return False
        used = [False] * len(preds)
        for g, t in zip(golds, types):
            rule = self._part_rule(t)
            if rule is None:
                return False
            j = next((j for j, p in enumerate(preds) if not used[j] and rule(p, g)), None)
            if j is None:
                return False
            used[j] = True
        return True


def judge(response: str, gold, type_sequence: Sequence[str] | None, ck: Checker) -> bool:
    """``Judger.auto_judge(response, gold, type_sequence)`` (see the module docstring).

    ``gold``: a string, or a list of strings for multi-part answers (the official evaluation
    passes the dataset's answer list, or its only element when it has one).
    """
    pred = judge_answer(response)
    if isinstance(gold, str):
        gold = judge_normalize(gold)
    if not pred:
        return False
    rules = _Judge(ck)
    if type_sequence:
        return rules.multi_part(pred, gold, type_sequence) or rules.multi_answer(pred, gold, type_sequence)
    for kind in _AUTO_TYPES:
        try:
            if rules.rules[kind](pred, gold):
                return True
        except (IndexError, KeyError, TypeError, ValueError, AttributeError):
            continue  # the judge catches every exception of a rule: not this type
    return False


def olympic_gold(answer, answer_list: Sequence[str] | None = None):
    """The gold the official evaluation passes: the answer list, or its only element."""
    golds = list(answer_list) if answer_list else None
    if golds and len(golds) > 1:
        return [str(g) for g in golds]
    return str(golds[0]) if golds else str(answer)


def paper_correct(response: str, gold, task: str, ck: Checker, type_sequence: Sequence[str] | None = None) -> bool:
    """Accuracy in paper mode: the string match (GSM8K, MATH) or the official judge."""
    if task == "olympicarena":
        return judge(response, gold, type_sequence, ck)
    pred = paper_answer(response, task)
    return bool(pred) and pred == paper_normalize(gold)


MULTI_ANSWER_TYPES = ("MC", "SET", "MPV", "MA")  # types whose gold is a list of answers


def paper_match(key_a: str, key_b: str, task: str, ck: Checker, type_sequence: Sequence[str] | None = None,
                answer_type: str | None = None) -> bool:
    """Do two answers agree (filter, vote)? ``key_*`` are ``paper_answer`` strings. GSM8K/MATH:
    equal non-empty strings. OlympicArena: the judge on ``key_a`` with ``key_b`` as its gold, as
    the paper's README says; for a question whose gold is a list (multiple choice, set,
    multi-part: by answer type or type sequence), ``key_b`` is split at top-level commas first,
    and a one-part list passes as its only element, as the official evaluation does."""
    if not key_a or not key_b:
        return False
    if task != "olympicarena":
        return key_a == key_b
    gold: str | list[str] = key_b
    kind = (answer_type or "").split(":")[0].strip().upper()
    if kind in MULTI_ANSWER_TYPES or (type_sequence and len(type_sequence) > 1):
        parts = split_by_comma(key_b)
        gold = parts if len(parts) > 1 else key_b
    return judge(key_a, gold, type_sequence, ck)
