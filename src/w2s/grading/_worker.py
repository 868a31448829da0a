"""Symbolic-equivalence worker: a separate Python process that runs math-verify (sympy).

Started by ``sandbox.py`` as ``python _worker.py`` (not through multiprocessing, so it works
from threads, daemonic worker processes and scripts without a ``__main__`` guard). Protocol: one
JSON request per line on stdin, one JSON reply per line on the original stdout; stray prints of
libraries go to stderr. The parent enforces a hard deadline per request by killing this process;
here a soft deadline (an interval timer in this process's main thread, raising a BaseException
that sympy's ``except Exception`` blocks cannot swallow) recovers from slow pure-Python work
without a restart.

Safety: only math-verify's LaTeX parser (an ANTLR grammar, which builds sympy objects and cannot
execute code) reads model text; its plain-expression extractor, which calls ``parse_expr`` (an
``eval``), is never used, and ``sympy``'s string evaluator is guarded: it evaluates only generated
constructor code with literal arguments ("Integer (12 )", which latex2sympy produces for number
tokens) and raises on anything else, so no code path here can turn model text into code. Address space is capped (``W2S_GRADER_MEMORY_MB``,
default 3072) so a huge power tower fails with MemoryError instead of swapping the machine.
"""

import os
import sys

# Run by path, this file's folder is sys.path[0]: drop it so sibling modules never shadow
# stdlib or third-party names.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import json  # noqa: E402
import re  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
from functools import lru_cache  # noqa: E402


class SoftTimeout(BaseException):
    """Raised by the interval timer; a BaseException so library ``except Exception`` lets it pass."""


def _on_alarm(signum, frame):
    raise SoftTimeout()


def _limit_memory() -> None:
    try:
        import resource

        mb = int(os.environ.get("W2S_GRADER_MEMORY_MB", "3072"))
        if mb > 0:
            resource.setrlimit(resource.RLIMIT_AS, (mb << 20, mb << 20))
    except (ImportError, ValueError, OSError):
        pass  # not available on this platform: the parent's deadline still bounds time


def main() -> None:
    """Long on purpose: the ops are closures over sympy and math-verify, which are imported (and
    their string evaluator guarded) here, after the address-space cap, never at module import."""
    proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _limit_memory()
    logging.basicConfig(level=logging.ERROR)
    # math-verify logs the full input on parse errors (100 kB of model text): silence it.
    for name in ("math_verify", "latex2sympy2_extended"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)

    import sympy
    from sympy.parsing import sympy_parser

    def _refuse_eval(*args, **kwargs):
        raise ValueError("w2s grader: evaluating text as code is disabled")

    # latex2sympy builds numbers with sympy.Number("12"), which goes through sympify -> eval of
    # generated code such as "Integer (12 )". Only code made of number/symbol constructors with
    # literal arguments and arithmetic is let through; anything else (a name, an attribute, a
    # call of something else) raises instead of being evaluated.
    safe_code = re.compile(
        r"(?:\s|[()+\-*/]|(?:Integer|Float|Rational|Symbol)\s*\(\s*(?:[0-9]+|'[0-9.eE+\-]*'|'[A-Za-z][A-Za-z0-9_]*')\s*\)|\b(?:E|I|pi)\b)*"
    )
    original_eval = sympy_parser.eval_expr

    def _guarded_eval(code, local_dict, global_dict):
        if len(code) > 200 or not safe_code.fullmatch(code):
            _refuse_eval()
        return original_eval(code, local_dict, global_dict)

    sympy_parser.eval_expr = _guarded_eval

    import math_verify.grader as mv_grader
    import math_verify.parser as mv_parser
    from math_verify import LatexExtractionConfig, parse, verify

    mv_parser.parse_expr = _refuse_eval  # the plain-expression path, in case a config enables it
    mv_parser.parse_expr_cached = _refuse_eval
    mv_grader.TIMEOUT_WARNING_SHOWN = True  # we bound time ourselves; no warning per process
    mv_parser.TIMEOUT_WARNING_SHOWN = True

    config = [LatexExtractionConfig(boxed_match_priority=0)]

    @lru_cache(maxsize=8192)
    def parsed(text: str):
        return parse("$" + text + "$", extraction_config=config, parsing_timeout=None)

    def equal(gold: str, pred: str) -> bool:
        g, p = parsed(gold), parsed(pred)
        if not g or not p:
            return False
        return bool(verify(g, p, timeout_seconds=None))

    def equation(a: str, b: str) -> bool:
        """Two equations are the same when (lhs - rhs) of one is a nonzero constant multiple of
        the other's (so x+y=1 matches 2x+2y=2); both sides must be equations."""
        pa, pb = parsed(a), parsed(b)
        ea = next((e for e in pa if isinstance(e, sympy.Equality)), None)
        eb = next((e for e in pb if isinstance(e, sympy.Equality)), None)
        if ea is None or eb is None:
            return False
        da, db = ea.lhs - ea.rhs, eb.lhs - eb.rhs
        if sympy.simplify(da - db) == 0:
            return True
        if db == 0:
            return False
        ratio = sympy.simplify(da / db)
        return bool(ratio.is_number and ratio != 0 and not ratio.has(sympy.zoo, sympy.nan))

    def value(a: str):
        """Numeric value of a closed-form expression as a string (for tolerance checks), or None."""
        for e in parsed(a):
            if isinstance(e, sympy.Basic) and e.is_number:
                v = sympy.N(e, 30)
                if v.is_real:
                    return str(v)
        return None

    def first_expr(text: str):
        """The first sympy expression math-verify parses from ``text``, or None."""
        return next((e for e in parsed(text) if isinstance(e, sympy.Basic)), None)

    # The paper mode's OlympicArena judge (w2s.grading.paper) reads LaTeX as sympy's own
    # parse_latex does: \\pi and e are plain variables (so "3.14159" is not pi there), letters
    # keep their case ("false" is not "False"), "1\\frac{1}{2}" is a product, not a mixed number.
    from latex2sympy2_extended import latex2sympy
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig

    judge_conversion = ConversionConfig(interpret_as_mixed_fractions=False, lowercase_symbols=False)
    judge_constants = {sympy.pi: sympy.Symbol("pi"), sympy.E: sympy.Symbol("e")}

    @lru_cache(maxsize=8192)
    def judge_expr(text: str):
        try:
            e = latex2sympy(text, conversion_config=judge_conversion)
        except Exception:  # a parse error: the judge's rule raises there too
            return None
        return e.subs(judge_constants) if isinstance(e, sympy.Basic) else None

    def as_float(e):
        try:
            return float(e)
        except (TypeError, ValueError, OverflowError):
            return None

    def oa_nv(a: str, b: str):
        """The judge's LaTeX step for numerical values: does each side parse, |N(a) - N(b)| when
        that difference is a number (None when it keeps variables), and N(a) == N(b)."""
        ea, eb = judge_expr(a), judge_expr(b)
        if ea is None or eb is None:
            return {"parsed": False}
        na, nb = sympy.N(ea), sympy.N(eb)
        diff = na - nb
        value = as_float(abs(diff)) if diff.is_number else None
        return {"parsed": True, "diff": value, "equal": bool(na == nb)}

    def oa_ex(a: str, b: str):
        """The judge's expression step: does each side parse, are the expressions the same, does
        each have a variable, and their float values when they have none."""
        ea, eb = judge_expr(a), judge_expr(b)
        if ea is None or eb is None:
            return {"parsed": False}
        return {"parsed": True, "same": bool(ea == eb), "vars": [bool(ea.free_symbols), bool(eb.free_symbols)],
                "values": [as_float(ea), as_float(eb)]}

    def oa_equation(a: str, b: str) -> bool:
        """The OlympicArena judge's equation rule: each side "lhs = rhs"; equal when the two
        (lhs - rhs) are equal or one is a nonzero integer multiple of the other."""
        sides = []
        for eq in (a, b):
            lhs, rhs = eq.split("=")
            el, er = judge_expr(lhs), judge_expr(rhs)
            if el is None or er is None:
                return False
            sides.append(sympy.simplify(el - er))
        d1, d2 = sides
        if sympy.simplify(d1 - d2) == 0:
            return True
        if d1 == 0 or d2 == 0:
            return False
        r1, r2 = sympy.simplify(d1 / d2), sympy.simplify(d2 / d1)
        return bool((r1.is_Integer and r1 != 0) or (r2.is_Integer and r2 != 0))

    def block(seconds: float) -> bool:
        """Diagnostic for tests of the parent's hard deadline: a hang the soft timer cannot
        interrupt (SIGALRM blocked), like a C-level big-integer computation."""
        import time

        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        try:
            time.sleep(min(float(seconds), 60.0))
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})
        return True

    ops = {
        "_block": lambda r: block(r["a"]),
        "verify": lambda r: equal(r["a"], r["b"]),
        "match": lambda r: equal(r["a"], r["b"]) and equal(r["b"], r["a"]),
        "equation": lambda r: equation(r["a"], r["b"]),
        "value": lambda r: value(r["a"]),
        "oa_nv": lambda r: oa_nv(r["a"], r["b"]),
        "oa_ex": lambda r: oa_ex(r["a"], r["b"]),
        "oa_equation": lambda r: oa_equation(r["a"], r["b"]),
    }

    signal.signal(signal.SIGALRM, _on_alarm)
    # Warm up the ANTLR parser and sympy caches before saying we are ready.
    equal("\\frac{1}{2}", "0.5")
    proto.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")

    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        reply = {"id": req.get("id")}
        soft = float(req.get("soft", 0) or 0)
        try:
            try:
                if soft > 0:
                    signal.setitimer(signal.ITIMER_REAL, soft)
                result = ops[req["op"]](req)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            reply["result"] = result
        except SoftTimeout:
            reply["timeout"] = True
        except MemoryError:
            reply["error"] = "MemoryError"
        except Exception as e:  # a parser bug on odd input is a wrong answer, not a crash
            reply["error"] = f"{type(e).__name__}: {str(e)[:200]}"
        proto.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    try:
        main()
    except (KeyboardInterrupt, BrokenPipeError):
        pass
