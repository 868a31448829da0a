"""Final-answer extraction from a model response (see the package docstring for the rules).

Every scan here is bounded: at most ``MAX_TRIES`` candidate positions are examined, each over at
most ``MAX_SPAN`` characters, so a 100 kB response costs a few linear passes, never O(n^2).
"""

from __future__ import annotations

import re

from ..prompts import ANSWER_KEYS
from .normalize import _MATH_WORDS, _NUMBER_RE, _TRANSLATION, canonical_number, normalize, to_number

MAX_SPAN = 4000  # longest answer text taken after a key or inside one \boxed{}
MAX_TRIES = 16  # candidate positions tried, from the last one backwards

# End-of-sequence markers that leak into decoded text: everything after them is not the answer.
END_MARKERS = ("</s>", "<|endoftext|>", "<|eot_id|>", "<|im_end|>", "<|end_of_text|>", "<eos>", "<end_of_turn>")
RUNAWAY = "Question:"

_BOXED_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_LEADING_NUMBER_RE = re.compile(r"\s*\$?\s*([+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?)(?![0-9/])")
_BOX_JOIN_RE = re.compile(r"[\s$]*(?:,|;|and|,\s*and)?[\s$]*")
_PHRASE_RE = re.compile(r"(?i)(?:final answer|the answer)\s*(?:is|:)\s*:?")


def cut_runaway(text: str) -> str:
    """Drop everything from an end-of-sequence marker or a runaway next "Question:".

    The response is normally the completion only; if it starts with its own "Question:" (the
    prompt was kept), the cut is at the second one.
    """
    for marker in END_MARKERS:
        i = text.find(marker)
        if i >= 0:
            text = text[:i]
    start = 0
    lead = len(text) - len(text.lstrip())
    if text.startswith(RUNAWAY, lead):
        start = lead + len(RUNAWAY)
    i = text.find(RUNAWAY, start)
    return text[:i] if i >= 0 else text


def _span(text: str, start: int) -> str:
    """The answer text that starts at ``start``: to the end of its line, or further while a
    brace group or a $...$ is still open (multi-line matrices); at most MAX_SPAN characters.
    If the line is empty (key at a line end), the answer is on the next non-empty line."""
    n = len(text)
    i = start
    while i < n and text[i] in " \t":
        i += 1
    while i < n and text[i] in " \t\r\n":
        i += 1
    depth, env, in_dollar, j = 0, 0, False, i
    limit = min(n, i + MAX_SPAN)
    while j < limit:
        ch = text[j]
        if ch == "\\":
            if text.startswith("\\begin{", j):
                env += 1
            elif text.startswith("\\end{", j):
                env = max(0, env - 1)
            j += 2  # an escaped character (\{, \$, \\) never opens or closes anything
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        elif ch == "$":
            in_dollar = not in_dollar
        elif ch == "\n" and depth == 0 and env == 0 and not in_dollar:
            break
        j += 1
    return text[i:min(j, limit)].strip()


def _after_last(text: str, needle: str) -> str | None:
    """Answer after the last occurrence of ``needle`` that is followed by something."""
    end = len(text)
    for _ in range(MAX_TRIES):
        i = text.rfind(needle, 0, end)
        if i < 0:
            return None
        found = _span(text, i + len(needle))
        if found:
            return found
        end = i
    return None


def _brace_content(text: str, open_end: int) -> tuple[str, int] | None:
    """Content of the brace group whose "{" ends at ``open_end``, and the index after "}"."""
    depth, j = 1, open_end
    limit = min(len(text), open_end + MAX_SPAN)
    while j < limit:
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_end:j], j + 1
        j += 1
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last balanced ``\\boxed{}``/``\\fbox{}``; boxes just before it that are
    separated from it only by a comma or "and" are joined with ", " (a multi-part answer
    "\\boxed{1}, \\boxed{2}"); "First \\boxed{1}, finally \\boxed{2}" gives 2."""
    starts = [m for m in _BOXED_RE.finditer(text)]
    for m in reversed(starts[-MAX_TRIES:]):
        got = _brace_content(text, m.end())
        if got is None or not got[0].strip():
            continue
        line_start = text.rfind("\n", 0, m.start()) + 1
        # Walk back over boxes on the same line that are separated only by a comma / "and".
        parts = [got[0].strip()]
        later_start = m.start()
        for other in reversed([o for o in starts[-MAX_TRIES:] if line_start <= o.start() < m.start()]):
            piece = _brace_content(text, other.end())
            if not piece:
                break
            between = text[piece[1] : later_start]
            if not piece[0].strip() or len(between) > 12 or not _BOX_JOIN_RE.fullmatch(between):
                break
            parts.insert(0, piece[0].strip())
            later_start = other.start()
        return ", ".join(parts)
    return None


def _last_phrase(text: str) -> str | None:
    matches = list(_PHRASE_RE.finditer(text))
    for m in reversed(matches[-MAX_TRIES:]):
        found = _span(text, m.end())
        if found:
            return found
    return None


def last_number(text: str) -> str | None:
    """The last number written in the text ("1,200" counts as 1200), canonical, or None."""
    last = None
    for m in _NUMBER_RE.finditer(text):
        last = m.group(0)
    if last is None:
        return None
    return canonical_number(last.rstrip(".")) or canonical_number(last)


def ends_in_loop(text: str, min_len: int = 10, times: int = 3) -> bool:
    """A degenerate generation: some line of >= ``min_len`` characters occurs >= ``times`` times.
    Such a response ran into a repetition loop and was cut by the token limit; a number in it
    is not a final answer (seen in the real weak outputs: "4x = 4x." repeated to the limit)."""
    counts: dict[str, int] = {}
    for line in text.split("\n"):
        line = line.strip()
        if len(line) >= min_len:
            counts[line] = counts.get(line, 0) + 1
            if counts[line] >= times:
                return True
    return False


def _gsm8k_number(norm: str) -> str:
    """GSM8K answers are numbers: "The total is 72 clips" -> "72" when the answer text holds
    exactly one number and otherwise only words; anything else ("1 hour, 45", "7x+11") stays."""
    if not norm or to_number(norm) is not None:
        return norm
    numbers = list(_NUMBER_RE.finditer(norm))
    if len(numbers) != 1:
        return norm
    m = numbers[0]
    rest = (norm[: m.start()] + " " + norm[m.end() :]).replace(",", " ").replace(":", " ").replace("=", " ")
    words = rest.replace(".", " ").split()
    if all(w.isalpha() and w.isascii() and len(w) >= 2 and w.lower() not in _MATH_WORDS for w in words):
        return canonical_number(m.group(0)) or norm
    return norm


def extract_raw(response: str, task: str) -> tuple[str, str]:
    """(answer text as written, rule that found it); ("", "none") when nothing is found."""
    text = cut_runaway(response.translate(_TRANSLATION))
    found = _after_last(text, ANSWER_KEYS[task])
    if found:
        return found, "key"
    found = last_boxed(text)
    if found:
        return found, "boxed"
    found = _last_phrase(text)
    if found:
        if task == "gsm8k":
            # "The answer is 17, because ..." -> the number the phrase starts with.
            m = _LEADING_NUMBER_RE.match(found)
            if m:
                return m.group(1), "phrase"
        return found, "phrase"
    if task == "gsm8k" and not ends_in_loop(text):
        found = last_number(text)
        if found:
            return found, "last_number"
    return "", "none"


def extract(response: str, task: str) -> str:
    raw, _ = extract_raw(response, task)
    norm = normalize(raw, task)
    if task == "gsm8k":
        norm = _gsm8k_number(norm)
    return norm
