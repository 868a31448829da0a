"""String normalisation of final answers and an exact numeric reader.

Everything here is plain string work with linear-time regexes and bounded integer sizes, so it
is safe to run in the calling process on untrusted model text: nothing is evaluated, no regex
can backtrack catastrophically, and no number is built with more than ``MAX_DIGITS`` digits or
an exponent beyond ``MAX_EXPONENT`` (``Fraction("1e999999999")`` would otherwise hang).
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_DIGITS = 200  # longer digit runs are not read as numbers (they stay strings)
MAX_EXPONENT = 400  # |exponent| bound for scientific notation read by ``to_number``

# Unicode look-alikes that models (and OlympicArena golds) use for ASCII math. Superscript
# digits are deliberately not folded: "3²" must not become "32".
_TRANSLATE = {
    "\u2212": "-",  # minus sign
    "\u2013": "-",  # en dash, used as a minus by some models
    "\u00d7": r"\times ",
    "\u00f7": "/",
    "\u22c5": r"\cdot ",
    "\u00b7": r"\cdot ",
    "\u221e": r"\infty ",
    "\u03c0": r"\pi ",
    "\u221a": r"\sqrt ",
    "\u2264": r"\le ",
    "\u2265": r"\ge ",
    "\u00b0": "",  # degree sign: degrees are dropped, as ^\circ is below
    "\uff0c": ",",  # fullwidth comma (OlympicArena judge maps it too)
    "\u2236": ":",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\u200b": "",
}
# Fullwidth ASCII (U+FF01..U+FF5E) -> ASCII: "１２" is 12.
_TRANSLATE.update({chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F) if chr(c) not in _TRANSLATE})
_TRANSLATION = str.maketrans(_TRANSLATE)

# A number as written in an answer: optional sign, digits with optional thousands commas, an
# optional decimal part. Only ASCII digits count (other Unicode digits stay text).
_NUMBER_RE = re.compile(r"[+-]?(?:(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)")
_INT_FRAC_RE = re.compile(r"([+-]?)([0-9]+(?:\.[0-9]+)?)/([0-9]+(?:\.[0-9]+)?)")
_LATEX_FRAC_RE = re.compile(r"([+-]?)\\frac\{([+-]?[0-9]+(?:\.[0-9]+)?)\}\{([+-]?[0-9]+(?:\.[0-9]+)?)\}")
# Mixed numbers: "1\frac{4}{5}" (MATH's convention for 9/5) and "27 1/2".
_MIXED_LATEX_RE = re.compile(r"([+-]?)([0-9]+)\s*\\frac\{([0-9]+)\}\{([0-9]+)\}")
_MIXED_PLAIN_RE = re.compile(r"([+-]?)([0-9]+) ([0-9]+)/([0-9]+)")
_SCI_RE = re.compile(
    r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*(?:[eE]([+-]?[0-9]{1,4})|(?:\\times|\\cdot|\*|x)\s*10\s*\^\s*\{?\s*([+-]?[0-9]{1,4})\s*\}?)"
)

# "\\" (a LaTeX line break, as in pmatrix rows) is matched first so that "\\ " is never
# mistaken for the spacing macro "\ ".
_SPACE_MACROS_RE = re.compile(r"\\\\|\\[,;:! ]|\\q?quad(?![A-Za-z])|~")
_LEFT_RIGHT_RE = re.compile(r"\\(?:left|right|[bB]igg?[lr]?)(?![A-Za-z])\s*")
_DEGREE_RE = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ(?![A-Za-z])|\\degree(?![A-Za-z])")
_STYLE_RE = re.compile(r"\\(?:displaystyle|textstyle|mathstrut|limits)(?![A-Za-z])")
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox|operatorname)\s*\{([^{}]*)\}")
_FRAC_SHORT_RE = re.compile(r"\\frac\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])")
_FRAC_HALF_SHORT_RE = re.compile(r"\\frac\s*\{([^{}]*)\}\s*([0-9a-zA-Z])")
_SQRT_SHORT_RE = re.compile(r"\\sqrt\s*([0-9a-zA-Z])")
_WS_RE = re.compile(r"\s+")
# A space survives only between two alphanumerics ("x y", "27 1/2") -- but not between a
# LaTeX command and a digit ("\times 10" -> "\times10").
_SPACE_DROP_RE = re.compile(r"(?<![A-Za-z0-9]) | (?![A-Za-z0-9])")
_CMD_SPACE_DIGIT_RE = re.compile(r"(\\[A-Za-z]+) (?=[0-9])")
_CHOICE_RE = re.compile(r"^\(?([A-Z])\)?$")
# A word is a whole run of letters ((?![A-Za-z])): splitting a run into several "words" made the
# match backtrack exponentially on long texts (a GSM8K solution given as a MATH gold hung for minutes).
_TRAILING_WORDS_RE = re.compile(r"^(.*?[0-9.])\s*((?:[A-Za-z]{2,}(?![A-Za-z])\.?(?:\^\{?[0-9]\}?)?[ ]*)+)$")
# Words that are mathematics, never units: a trailing one is kept ("2 pi" stays).
_MATH_WORDS = {
    "pi", "sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "infty", "inf",
    "infinity", "and", "or", "ni", "in", "mod", "pmod", "deg", "arcsin", "arccos", "arctan",
}


def _unwrap_command(s: str, names: tuple[str, ...]) -> str:
    """Replace every ``\\name{...}`` (nested braces allowed) by its content; linear time."""
    pattern = re.compile(r"\\(?:" + "|".join(names) + r")\s*\{")
    out = []
    pos = 0
    while True:
        m = pattern.search(s, pos)
        if not m:
            out.append(s[pos:])
            return "".join(out)
        out.append(s[pos : m.start()])
        depth, i = 1, m.end()
        while i < len(s) and depth:
            if s[i] == "{":
                depth += 1
            elif s[i] == "}":
                depth -= 1
            i += 1
        if depth:  # unbalanced: keep the rest as it is
            out.append(s[m.end() :])
            return "".join(out)
        out.append(s[m.end() : i - 1])
        pos = i


def _strip_delimiters(s: str) -> str:
    """Remove math-mode wrappers around the whole answer: $..$, $$..$$, \\(..\\), \\[..\\]."""
    for _ in range(4):
        t = s.strip()
        if t.startswith("$$") and t.endswith("$$") and len(t) > 4:
            t = t[2:-2]
        elif t.startswith("$") and t.endswith("$") and len(t) > 2:
            t = t[1:-1]
        elif t.startswith("\\(") and t.endswith("\\)"):
            t = t[2:-2]
        elif t.startswith("\\[") and t.endswith("\\]"):
            t = t[2:-2]
        if t == s:
            break
        s = t
    return s.strip()


def canonical_number(text: str) -> str | None:
    """'1,200.50' -> '1200.5', '-0' -> '0', '.5' -> '0.5', '+3' -> '3'; None if not a plain number."""
    if len(text) > MAX_DIGITS or not _NUMBER_RE.fullmatch(text):
        return None
    sign = "-" if text.startswith("-") else ""
    body = text.lstrip("+-").replace(",", "")
    if "." in body:
        whole, frac = body.split(".", 1)
        frac = frac.rstrip("0")
    else:
        whole, frac = body, ""
    whole = whole.lstrip("0") or "0"
    out = whole + ("." + frac if frac else "")
    return "0" if out == "0" else sign + out


def _drop_unit_words(s: str) -> str:
    """'18 dollars' -> '18', '5 cm^2' -> '5'; '2 pi' and '3 and 5' stay as they are."""
    m = _TRAILING_WORDS_RE.match(s)
    if not m:
        return s
    words = [w.rstrip(".").split("^")[0].lower() for w in m.group(2).split()]
    if any(w in _MATH_WORDS for w in words):
        return s
    head = m.group(1).strip()
    return head if to_number(head) is not None else s


def normalize(answer: str, task: str = "math") -> str:
    """The canonical string form of one final answer (idempotent; "" stays "").

    Steps, in order: Unicode look-alikes to ASCII; math delimiters and ``\\boxed``/``\\fbox``
    removed; ``\\dfrac``/``\\tfrac`` -> ``\\frac``; ``\\left``/``\\right``, spacing macros,
    ``\\displaystyle``, degree marks, ``\\$``, ``$`` and a trailing ``%`` removed; unit words in
    ``\\text{}`` after a number dropped, other ``\\text{}``-like wrappers unwrapped; ``\\frac12`` ->
    ``\\frac{1}{2}``, ``\\sqrt2`` -> ``\\sqrt{2}``; spaces kept only between two alphanumerics;
    trailing punctuation removed; "(B)" -> "B"; plain numbers in canonical form ("1,200.0" ->
    "1200"); trailing unit words after a number dropped ("18 dollars" -> "18").
    """
    if not answer:
        return ""
    s = answer.translate(_TRANSLATION)
    s = _strip_delimiters(s)
    s = _unwrap_command(s, ("boxed", "fbox"))
    s = _strip_delimiters(s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("\\dbinom", "\\binom").replace("\\tbinom", "\\binom")
    s = _LEFT_RIGHT_RE.sub("", s)
    s = _SPACE_MACROS_RE.sub(lambda m: m.group(0) if m.group(0) == "\\\\" else " ", s)
    s = _STYLE_RE.sub("", s)
    s = _DEGREE_RE.sub("", s)
    s = s.replace("\\$", "").replace("$", "")
    s = s.replace("\\%", "%")
    # A \text{...} that holds only unit words after a number is a unit: drop it ("5\text{ cm}").
    s = re.sub(r"(?<=[0-9}])\s*\\(?:text|mbox|mathrm)\s*\{\s*[A-Za-z][A-Za-z .]*\}(\^\{?[0-9]\}?)?\s*$", "", s)
    for _ in range(3):  # nested \text{\textbf{..}}: a few rounds suffice, bounded
        t = _TEXT_CMD_RE.sub(lambda m: m.group(1), s)
        if t == s:
            break
        s = t
    s = _FRAC_SHORT_RE.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_HALF_SHORT_RE.sub(r"\\frac{\1}{\2}", s)
    s = _SQRT_SHORT_RE.sub(r"\\sqrt{\1}", s)
    s = _WS_RE.sub(" ", s).strip()
    s = _SPACE_DROP_RE.sub("", s)
    s = _CMD_SPACE_DIGIT_RE.sub(r"\1", s)
    s = s.rstrip(".;:,").strip()  # not "!": "5!" is a factorial
    if s.endswith("%") and to_number(s[:-1]) is not None:
        s = s[:-1]  # "25%" is graded as 25 (not 0.25): the percent is the unit of the answer
    s = _drop_unit_words(s)
    m = _CHOICE_RE.match(s)
    if m:
        s = m.group(1)
    num = canonical_number(s)
    return num if num is not None else s


def _to_fraction(text: str) -> Fraction | None:
    text = text.replace(",", "")
    if len(text) > MAX_DIGITS:
        return None
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def to_number(s: str) -> Fraction | None:
    """Read a normalised answer as an exact rational, or None.

    Accepts integers and decimals (thousands commas allowed), ``a/b``, ``\\frac{a}{b}``, mixed
    numbers (``1\\frac{4}{5}``, ``27 1/2``) and scientific notation (``1.2e5``,
    ``1.2\\times10^{5}``) with |exponent| <= MAX_EXPONENT. Irrational forms return None: they
    are left to the symbolic checker.
    """
    if not s or len(s) > MAX_DIGITS:
        return None
    if _NUMBER_RE.fullmatch(s):
        return _to_fraction(s)
    for pattern in (_INT_FRAC_RE, _LATEX_FRAC_RE):
        m = pattern.fullmatch(s)
        if m:
            num, den = _to_fraction(m.group(2)), _to_fraction(m.group(3))
            if num is None or den is None or den == 0:
                return None
            value = num / den
            return -value if m.group(1) == "-" else value
    for pattern in (_MIXED_LATEX_RE, _MIXED_PLAIN_RE):
        m = pattern.fullmatch(s)
        if m:
            whole, num, den = (int(m.group(i)) for i in (2, 3, 4))
            if den == 0 or num >= den:  # "2\frac{5}{3}" is not a mixed number: let sympy read it
                return None
            value = whole + Fraction(num, den)
            return -value if m.group(1) == "-" else value
    m = _SCI_RE.fullmatch(s)
    if m:
        exponent = int(m.group(2) or m.group(3))
        mantissa = _to_fraction(m.group(1))
        if mantissa is None or abs(exponent) > MAX_EXPONENT:
            return None
        return mantissa * Fraction(10) ** exponent
    return None


def decimal_places(s: str) -> int | None:
    """Digits after the point when ``s`` is written as a plain decimal ("0.3333" -> 4), else None."""
    if _NUMBER_RE.fullmatch(s) and "." in s:
        return len(s.split(".", 1)[1])
    return None


def is_scientific(s: str) -> bool:
    return bool(_SCI_RE.fullmatch(s))


def split_top_level(s: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside (), [], {} -- "f(x, y), 2" -> ["f(x, y)", "2"]. Linear time."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch == sep and depth == 0:
            parts.append(s[start:i].strip())
            start = i + 1
    parts.append(s[start:].strip())
    return [p for p in parts if p]


def nesting_depth(s: str) -> int:
    """Deepest bracket nesting of any kind; used to refuse pathological input cheaply."""
    depth = best = 0
    for ch in s:
        if ch in "([{":
            depth += 1
            best = max(best, depth)
        elif ch in ")]}":
            depth = max(0, depth - 1)
    return best
