"""Modules that do one job: none in src/ over 500 lines, no function over 60 lines unless its
docstring says why ("Long on purpose: ...")."""

import ast

from tests.conftest import ROOT

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
REASON = "Long on purpose"
# Files and functions outside the check, each with the reason and who removes the entry.
ALLOWED_MODULES: dict[str, str] = {}
ALLOWED_FUNCTIONS: dict[tuple[str, str], str] = {}


def sources():
    for path in sorted((ROOT / "src").rglob("*.py")):
        yield str(path.relative_to(ROOT)), path.read_text()


def test_no_module_over_500_lines():
    long = [f"{rel}: {len(text.splitlines())} lines" for rel, text in sources()
            if len(text.splitlines()) > MAX_MODULE_LINES and rel not in ALLOWED_MODULES]
    assert not long, "split these modules:\n" + "\n".join(long)


def test_long_functions_say_why():
    long = []
    for rel, text in sources():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES and REASON not in (ast.get_docstring(node) or "") \
                        and (rel, node.name) not in ALLOWED_FUNCTIONS:
                    long.append(f"{rel}:{node.lineno} {node.name}: {lines} lines")
    assert not long, f"split these functions or say why in the docstring ('{REASON}: ...'):\n" + "\n".join(long)
