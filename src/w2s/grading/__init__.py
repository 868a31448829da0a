"""One grader for every rule that compares answers: the consistency filter, the stage II vote,
pair mining and every accuracy.

Public API::

    TASKS, GRADER_ID, grader_id(mode)
    extract_answer(response, task) -> str
    is_equivalent(gold, pred, task, answer_type=None, timeout=5.0) -> bool
    matching_answer(response, task, mode="equivalence") -> str
    answers_match(a, b, task, mode="equivalence", answer_type=None, type_sequence=None) -> bool
    group_answers(answers, task, mode="equivalence", answer_type=None, type_sequence=None) -> list[int]
    grade_rows(rows, task, workers=1, timeout=5.0, mode="equivalence") -> list[dict]
    grade_file(task, input_path, output_path, workers=1) -> {"n", "correct", "accuracy"}

Extraction (``extract_answer``)
-------------------------------
1. Cut the response at an end-of-sequence marker (``</s>``, ``<|eot_id|>`` ...) and at a runaway
   next ``Question:`` (the second one if the text starts with its own ``Question:``).
2. The task's answer key -- ``####`` (GSM8K), ``The answer is:`` (MATH, OlympicArena) -- anywhere
   in the text; the last occurrence that is followed by something wins. The answer runs to the
   end of its line, or further while a ``{}`` group or ``$...$`` is open; if the key ends a line,
   the next non-empty line is the answer.
3. Fallbacks, in order: the last balanced ``\\boxed{}``/``\\fbox{}`` (nested braces; several boxes
   on that same line are joined with ", "); the last "the answer is" / "final answer is" phrase
   (any case); for GSM8K only, the last number in the text -- unless the response ran into a
   repetition loop (a line of >= 10 characters occurring >= 3 times: a degenerate generation
   cut by the token limit, whose last number is not an answer). Otherwise "" (no answer).
4. Normalisation (``normalize.normalize``): LaTeX wrappers, ``\\left``/``\\right``, ``\\dfrac``,
   spacing, degrees, currency, a trailing ``%`` and unit words after a number are removed;
   plain numbers are written canonically ("1,200.50" -> "1200.5"). For GSM8K an answer that is
   one number among words ("72 clips") becomes that number; "1 hour, 45 minutes" stays text.
   Only ASCII and fullwidth digits are digits: "٧٢" is text, not 72.

Equivalence (``is_equivalent``, gold first)
-------------------------------------------
- Equal normalised strings are equal.
- Two plain numbers (integers, decimals, a/b, \\frac{a}{b}, mixed numbers, scientific notation)
  are compared exactly as rationals ("0.50" = "\\frac{1}{2}", "25%" = "25"; "25%" != "0.25").
  A decimal with >= 4 places matches a value within one unit of its last place (0.3333 = 1/3).
- GSM8K: a number never equals an answer with no digit or with words in it ("2 hours 30
  minutes" is not 2.5: GSM8K asks for one number).
- A plain number never equals a tuple, interval, set, list, union or matrix (two or more
  top-level elements, ``\\cup`` or ``\\begin{...}``).
- Everything else goes to math-verify (gold first, it is not symmetric) in a worker process:
  LaTeX fractions, roots, pi, complex numbers, tuples, intervals, sets, ``\\pm``, matrices,
  equations ("x=5" = "5"), percent, units. It is run only on answers of at most 1,000
  characters and bracket depth 24; longer ones are refused (False, logged).

OlympicArena answer types (``answer_type``; "MPV:NV,EX" gives the type sequence of a
multi-part answer, verbose names such as "Numerical value" are accepted; gold may be a list or
a JSON list string; ``answer_type=None`` infers TF / SC / numeric from the gold, else generic):

- SC: exactly one choice letter (A, (A), [A], "A: text") equal to the gold letter.
- MC: the set of letters ("A, C", "AC", "[A, C]") equals the gold set; no duplicates.
- TF: "True" / "False" (any case) equal to the gold.
- NV: when either side is in scientific notation (1.2e5, 1.2\\times10^{5}): the same power of
  ten and mantissas within 0.101 (the OlympicArena judge's rule); otherwise |pred - gold| <=
  1.01e-5 (the judge's absolute tolerance; unlike the judge it is not applied to scientific
  notation, where it would make 6.67e-11 equal 6.67e-10). Closed forms (2^5, \\log_2 7) are
  evaluated symbolically; a comma-separated answer where one value is asked is wrong.
- SET: the same number of elements, matched one-to-one in any order (numbers by NV, others by
  generic equivalence); ``\\{...\\}`` braces optional.
- IN: unions of intervals (``\\cup``) matched in any order; bracket types must agree; bounds by
  generic equivalence, infinities by their sign.
- EX: the right-hand sides (text after the last "=") are equivalent expressions.
- EQ: both are equations and lhs-rhs of one is a nonzero constant multiple of the other's.
- TUP: same length, elementwise in order (numbers by NV).
- MPV: parts in order, each by its type in the sequence (generic when none is given).
- MA: parts matched one-to-one in any order, each by its type.

Answer matching for the filter and the vote (``answers_match`` / ``group_answers``)
--------------------------------------------------------------------------------------
``mode="equivalence"`` (default): two answers match when each is equivalent to the other with
the rules above (both directions, so the relation is symmetric); "" never matches. For
OlympicArena the question's ``answer_type`` (and ``type_sequence``) selects the typed rule, as
for accuracy. Groups are formed greedily in order of first appearance against each group's
first member, so labels are deterministic. ``mode="exact"``: a normalised string match (our
extraction and normaliser; equal non-empty strings). ``mode="paper"``: the paper's own code's
decisions (``paper.py``): its extraction and normaliser with a string match for GSM8K and MATH,
the OlympicArena judge's rules (answer type unused, type sequence used) for OlympicArena; in
this mode accuracy (``grade_rows(..., mode="paper")``) follows the paper too. Callers extract
the answers to compare with ``matching_answer(response, task, mode)``. The mode is recorded
through ``grader_id(mode)`` / ``GRADER_ID``.

Safety and time
---------------
No model text is ever evaluated as code: the fast layer reads numbers with bounded regexes and
``fractions.Fraction`` (digits and exponents capped); the symbolic layer is math-verify's
LaTeX (ANTLR) parser only, in a worker process where sympy's string evaluator is disabled
(``_worker.py``). Every symbolic check has a hard wall-time deadline (``timeout``, default 5 s
for one ``is_equivalent`` call, including all its sub-checks): a worker that misses it is
killed and replaced, the item counts as wrong and a warning is logged (logger
``w2s.grading``). This works from any thread and from worker processes; no SIGALRM is used in
the caller. ``grade_rows`` decides everything it can in the calling process first and sends
only the rest to ``workers`` worker processes.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

from .. import registry
from ..config import schema_default
from ..io import InputError, output_file, read_jsonl, write_jsonl
from ..prompts import ANSWER_KEYS
from . import compare, paper, sandbox
from .compare import Checker, NeedSymbolic
from .extract import _gsm8k_number, extract, extract_raw
from .golds import gold_warning
from .normalize import normalize

__all__ = [
    "TASKS", "MODES", "GRADER_ID", "grader_id", "extract_answer", "matching_answer", "is_equivalent",
    "answers_match", "group_answers", "grade_rows", "grade_file", "normalize", "extract_raw", "shutdown_workers",
]

log = logging.getLogger("w2s.grading")

TASKS = tuple(registry.TASKS)
MODES = registry.GRADING_MODES
DEFAULT_MODE = schema_default("grading.mode")  # config/schema.yaml
DEFAULT_ACCURACY_MODE = schema_default("grading.accuracy")[0]
GRADER_VERSION = "1"


def _math_verify_version() -> str:
    try:
        return metadata.version("math-verify")
    except metadata.PackageNotFoundError:
        return "missing"


def grader_id(mode: str = DEFAULT_MODE) -> str:
    """A short string naming this grader's version and comparison mode, for metrics files."""
    _check_mode(mode)
    return f"w2s-grading-v{GRADER_VERSION}+math-verify-{_math_verify_version()}/{mode}"


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown answer-matching mode {mode!r}; expected one of {', '.join(MODES)}")


GRADER_ID = grader_id("equivalence")


def shutdown_workers() -> None:
    """Stop idle symbolic workers now (they also stop at exit and restart on demand)."""
    sandbox.shutdown()


def extract_answer(response: str, task: str) -> str:
    """The final answer of a response, normalised; "" when nothing is found (rules above)."""
    _check_task(task)
    if not isinstance(response, str):
        raise TypeError(f"response must be a string, got {type(response).__name__}")
    return extract(response, task)


def _gold_answer(gold, task: str):
    """A gold that is a whole solution ("... #### 72") is reduced to its final answer."""
    if isinstance(gold, (list, tuple)):
        return [str(g) for g in gold]
    if isinstance(gold, bool) or gold is None:
        raise TypeError(f"gold must be a string (or a list for OlympicArena), got {gold!r}")
    gold = str(gold)
    if task == "olympicarena" and gold.strip().startswith("["):
        as_list = compare.gold_list(gold, split=False)
        if len(as_list) > 1 or as_list != [gold.strip()]:
            return as_list  # a JSON list of golds (MC, SET, MPV, MA)
    key = ANSWER_KEYS[task]
    if key in gold:
        return extract(gold, task)
    norm = normalize(gold, task)
    if task == "gsm8k":
        norm = _gsm8k_number(norm)
    return norm


def _pred_answer(pred: str, task: str) -> str:
    norm = normalize(pred, task)
    if task == "gsm8k":
        norm = _gsm8k_number(norm)
    return norm


def _equivalent(gold, pred: str, task: str, answer_type, ck: Checker) -> bool:
    if not pred:
        return False
    if task == "olympicarena" and (answer_type or isinstance(gold, list)):
        return compare.olympic_equal(gold, pred, answer_type, ck)
    if isinstance(gold, list):
        # A list of acceptable golds outside OlympicArena: any of them.
        return any(compare.equal(_gold_answer(g, task), pred, task, ck) for g in gold)
    if task == "olympicarena":
        return compare.olympic_equal(gold, pred, None, ck)
    return compare.equal(gold, pred, task, ck)


def is_equivalent(gold, pred: str, task: str, answer_type: str | None = None, timeout: float = 5.0,
                  type_sequence: Sequence[str] | None = None) -> bool:
    """Is the extracted answer ``pred`` equivalent to ``gold``? Gold first; bounded by ``timeout``
    seconds of symbolic work in total; pathological input -> False (logged). ``answer_type`` (and
    the ``type_sequence`` of a multi-part answer) are used for OlympicArena only."""
    _check_task(task)
    if not isinstance(pred, str):
        raise TypeError(f"pred must be a string, got {type(pred).__name__}")
    g = _gold_answer(gold, task)
    kind = _type_of(answer_type, type_sequence) if task == "olympicarena" else None
    return _equivalent(g, _pred_answer(pred, task), task, kind, Checker(timeout).start())


def matching_answer(response: str, task: str, mode: str = DEFAULT_MODE) -> str:
    """The answer the filter and the vote compare: ``extract_answer`` in the equivalence and
    exact modes, the paper code's extraction in ``paper`` mode ("" when there is none)."""
    _check_task(task)
    _check_mode(mode)
    if not isinstance(response, str):
        raise TypeError(f"response must be a string, got {type(response).__name__}")
    return paper.paper_answer(response, task) if mode == "paper" else extract(response, task)


def _type_of(answer_type, type_sequence) -> str | None:
    """One answer-type string ("MPV:NV,EX") from a row's answer_type and type_sequence."""
    if not answer_type:
        return None
    answer_type = str(answer_type)
    if type_sequence and ":" not in answer_type and "(" not in answer_type:
        answer_type = f"{answer_type}:{','.join(map(str, type_sequence))}"
    compare.parse_answer_type(answer_type)  # unknown types are an error, not a mismatch
    return answer_type


def _match(x: str, y: str, task: str, mode: str, kind: str | None, type_sequence, ck: Checker) -> bool:
    if mode == "paper":
        return paper.paper_match(x, y, task, ck, type_sequence, kind)
    if mode == "exact":
        return x == y
    if task == "olympicarena" and kind:
        if kind.split(":")[0].strip().upper() in ("MPV", "MA"):
            # The type sequence is positional in the gold's parts: y is the gold (one direction).
            return compare.olympic_equal(y, x, kind, ck)
        return compare.olympic_equal(y, x, kind, ck) and compare.olympic_equal(x, y, kind, ck)
    return compare.match(x, y, task, ck)


def answers_match(a: str, b: str, task: str, mode: str = DEFAULT_MODE, timeout: float = 5.0,
                  answer_type: str | None = None, type_sequence: Sequence[str] | None = None) -> bool:
    """Symmetric comparison of two answers from ``matching_answer`` (consistency filter); ""
    never matches. ``answer_type``/``type_sequence``: the question's (OlympicArena)."""
    _check_task(task)
    _check_mode(mode)
    if mode == "paper":
        x, y = a or "", b or ""
    else:
        x, y = _pred_answer(a or "", task), _pred_answer(b or "", task)
    if not x or not y:
        return False
    kind = _type_of(answer_type, type_sequence) if task == "olympicarena" else None
    return _match(x, y, task, mode, kind, type_sequence, Checker(timeout).start())


def group_answers(answers: Sequence[str], task: str, mode: str = DEFAULT_MODE, timeout: float = 5.0,
                  answer_type: str | None = None, type_sequence: Sequence[str] | None = None) -> list[int]:
    """Group label per answer (from ``matching_answer``) for majority voting: matching answers
    share a label, labels are 0, 1, 2 ... in order of first appearance, an empty answer gets -1.
    Each answer joins the first earlier group whose first member it matches (deterministic,
    order-dependent only)."""
    _check_task(task)
    _check_mode(mode)
    kind = _type_of(answer_type, type_sequence) if task == "olympicarena" else None
    labels: list[int] = []
    by_string: dict[str, int] = {}
    reps: list[str] = []  # first member of each group
    for a in answers:
        x = (a or "") if mode == "paper" else _pred_answer(a or "", task)
        if not x:
            labels.append(-1)
            continue
        if x in by_string:
            labels.append(by_string[x])
            continue
        label = -1
        if mode != "exact":
            for i, rep in enumerate(reps):
                # paper mode: the judge on the new answer with the group's first one as gold.
                if _match(x, rep, task, mode, kind, type_sequence, Checker(timeout).start()):
                    label = i
                    break
        if label < 0:
            label = len(reps)
            reps.append(x)
        by_string[x] = label
        labels.append(label)
    return labels


def _row_fields(row, i: int, task: str):
    if not isinstance(row, dict):
        raise InputError(f"row {i + 1}: expected an object with 'response' and 'gold', got {type(row).__name__}")
    for field in ("response", "gold"):
        if field not in row:
            raise InputError(f"row {i + 1}: missing field '{field}'. Fields present: {', '.join(sorted(row)) or 'none'}.")
    response, gold = row["response"], row["gold"]
    if not isinstance(response, str):
        raise InputError(f"row {i + 1}: field 'response' must be a string, got {type(response).__name__}.")
    if isinstance(gold, bool) or not isinstance(gold, (str, int, float, list)):
        raise InputError(f"row {i + 1}: field 'gold' must be a string, number or list, got {type(gold).__name__}.")
    answer_type = row.get("answer_type")
    if task == "olympicarena" and answer_type is not None:
        seq = row.get("type_sequence")
        if seq and ":" not in str(answer_type) and "(" not in str(answer_type):
            answer_type = f"{answer_type}:{','.join(map(str, seq))}"
        try:
            compare.parse_answer_type(answer_type)
        except ValueError as e:
            raise InputError(f"row {i + 1}: {e}") from None
    return response, gold, answer_type


def _grade_rows_paper(rows: list[dict], task: str, workers: int, timeout: float) -> list[dict]:
    """``grade_rows`` in paper mode: the paper code's decision per row (``paper.py``)."""
    for i, row in enumerate(rows):
        _row_fields(row, i, task)

    def one(row: dict) -> dict:
        gold = row["gold"]
        if task == "olympicarena" and isinstance(gold, list) and len(gold) == 1:
            gold = gold[0]  # as the official evaluation passes a one-element answer list
        seq = row.get("type_sequence") or None
        correct = paper.paper_correct(row["response"], gold, task, Checker(timeout, limit=workers).start(), seq)
        return dict(row, pred=paper.paper_answer(row["response"], task), correct=bool(correct))

    if workers == 1 or task != "olympicarena":
        return [one(r) for r in rows]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="w2s-grade") as ex:
        return list(ex.map(one, rows))


def grade_rows(rows: Sequence[dict], task: str, workers: int = 1, timeout: float = 5.0,
               mode: str = DEFAULT_ACCURACY_MODE) -> list[dict]:
    """Grade rows with "response" and "gold" (and optionally "answer_type"/"type_sequence" for
    OlympicArena): new dicts with "pred" and "correct" added, same order. The fast layer runs
    here; the rest goes to ``workers`` symbolic worker processes, each item with its own
    ``timeout``; a hang is killed and counts as wrong, so it never stalls the batch.
    ``mode="paper"``: the paper code's decisions instead (see the package docstring); the other
    modes grade accuracy alike (they differ only in how the filter and the vote match answers)."""
    _check_task(task)
    _check_mode(mode)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    rows = list(rows)  # iterated twice below; a generator would come back empty the second time
    if mode == "paper":
        return _grade_rows_paper(rows, task, workers, timeout)
    items = []
    for i, row in enumerate(rows):
        response, gold, answer_type = _row_fields(row, i, task)
        items.append((_gold_answer(gold, task), extract(response, task), answer_type))

    def key(item):
        gold, pred, answer_type = item
        return json.dumps([gold, pred, answer_type], ensure_ascii=False)

    decided: dict[str, bool] = {}
    pending: dict[str, tuple] = {}
    fast = Checker(fast_only=True)
    for item in items:
        k = key(item)
        if k in decided or k in pending:
            continue
        gold, pred, answer_type = item
        try:
            decided[k] = _equivalent(gold, pred, task, answer_type, fast)
        except NeedSymbolic:
            pending[k] = item

    def slow(k_item):
        k, (gold, pred, answer_type) = k_item
        return k, _equivalent(gold, pred, task, answer_type, Checker(timeout, limit=workers).start())

    if pending:
        if workers == 1:
            results = map(slow, pending.items())
            decided.update(results)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="w2s-grade") as ex:
                decided.update(ex.map(slow, pending.items()))
    return [dict(row, pred=item[1], correct=bool(decided[key(item)])) for row, item in zip(rows, items)]


def grade_file(task: str, input_path, output_path, workers: int = 1, mode: str = DEFAULT_ACCURACY_MODE) -> dict:
    """``w2s grade``: read INPUT.jsonl, write OUTPUT.jsonl atomically with "pred" and "correct"
    added, print one summary line with the accuracy to stderr, return the counts."""
    _check_task(task)
    output_file(output_path)  # a folder given as the output fails now, not after the grading
    rows = read_jsonl(input_path, required={"response": str, "gold": (str, int, float, list)}, unique=None)
    warning = gold_warning(rows, task)
    if warning:  # before the grading: a wrong --task should not cost a run to find out
        print(f"w2s grade --task {task}: warning: {warning}", file=sys.stderr, flush=True)
    started = time.monotonic()
    graded = grade_rows(rows, task, workers=workers, mode=mode)
    write_jsonl(output_path, graded)
    n = len(graded)
    correct = sum(r["correct"] for r in graded)
    accuracy = correct / n if n else 0.0
    empty = sum(1 for r in graded if not r["pred"])
    print(
        f"w2s grade --task {task}: {correct}/{n} correct, accuracy {accuracy:.4f} "
        f"({empty} without an answer; {time.monotonic() - started:.1f} s; {grader_id(mode)}) -> {os.fspath(output_path)}",
        file=sys.stderr,
    )
    return {"n": n, "correct": correct, "accuracy": accuracy}
