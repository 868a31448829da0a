"""The toy world's problems: seeded arithmetic word problems with GSM8K-style gold solutions, and the
train_1 / train_2 / test splits made of them.

``cfg`` is ``toy.data`` of the validated config (or a toy model's settings, which carry the same
``max_steps``, ``max_operand`` and ``max_value``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..io import read_jsonl, write_jsonl

SPLITS = ("train_1", "train_2", "test")
_CALC_NOTE = re.compile(r"<<[^<>]*>>")

_PEOPLE = [
    ("Tom", "he", "his"), ("Anna", "she", "her"), ("Ben", "he", "his"), ("Mia", "she", "her"),
    ("Sam", "he", "his"), ("Lily", "she", "her"), ("Jack", "he", "his"), ("Emma", "she", "her"),
    ("Leo", "he", "his"), ("Zoe", "she", "her"), ("Max", "he", "his"), ("Ella", "she", "her"),
    ("Noah", "he", "his"), ("Ava", "she", "her"), ("Luke", "he", "his"), ("Grace", "she", "her"),
]
_FRIENDS = ["a friend", "{his} sister", "{his} brother", "a neighbor", "a classmate", "the teacher"]
_ITEMS = [
    ("apple", "apples"), ("book", "books"), ("marble", "marbles"), ("sticker", "stickers"),
    ("cookie", "cookies"), ("pencil", "pencils"), ("card", "cards"), ("shell", "shells"),
    ("coin", "coins"), ("flower", "flowers"), ("toy car", "toy cars"), ("stamp", "stamps"),
    ("egg", "eggs"), ("balloon", "balloons"), ("candy", "candies"), ("crayon", "crayons"),
]
_CONTAINERS = ["bags", "boxes", "packs", "jars", "baskets"]


def _note(a: int, op: str, b: int, r: int) -> str:
    """An equation with a GSM8K calculator note: ``5 + 3 = <<5+3=8>>8``."""
    return f"{a} {op} {b} = <<{a}{op}{b}={r}>>{r}"


@dataclass
class _Story:
    """A problem being written: who and what it is about, the question's sentences so far, the
    solution's lines and the bare equations of its steps."""

    rng: random.Random
    max_operand: int
    max_value: int
    name: str
    he: str
    his: str
    item: str
    items: str
    friend: str
    question: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    equations: list[str] = field(default_factory=list)

    def of(self, k: int) -> str:  # "1 apple", "3 apples"
        return f"{k} {self.item if k == 1 else self.items}"

    def step(self, a: int, op: str, b: int, r: int) -> str:
        self.equations.append(f"{a} {op} {b} = {r}")
        return _note(a, op, b, r)


# One step of a story: each takes the current value and returns the new one, or None when the step
# does not fit (the caller draws another kind). Each draws from the story's rng in a fixed order.

def _add(s: _Story, v: int) -> int | None:
    if v >= s.max_value:
        return None
    He, b = s.he.capitalize(), s.rng.randint(1, min(s.max_operand, s.max_value - v))
    r, verb, more = v + b, s.rng.randrange(3), s.item if b == 1 else s.items
    if verb == 0:
        s.question.append(f"{He} buys {b} more {more}.")
        s.lines.append(f"After buying {b} more, {s.he} has {s.step(v, '+', b, r)} {s.items}.")
    elif verb == 1:
        s.question.append(f"{He} finds {b} more {more}.")
        s.lines.append(f"After finding {b} more, {s.he} has {s.step(v, '+', b, r)} {s.items}.")
    else:
        s.question.append(f"{s.friend[0].upper() + s.friend[1:]} gives {s.name} {b} more {more}.")
        s.lines.append(f"After getting {b} more, {s.he} has {s.step(v, '+', b, r)} {s.items}.")
    return r


def _sub(s: _Story, v: int) -> int | None:
    if v < 2:
        return None
    He, b = s.he.capitalize(), s.rng.randint(1, min(s.max_operand, v - 1))
    r, verb = v - b, s.rng.randrange(3)
    if verb == 0:
        s.question.append(f"{He} gives {s.of(b)} to {s.friend}.")
        s.lines.append(f"After giving away {b}, {s.he} has {s.step(v, '-', b, r)} {s.items}.")
    elif verb == 1:
        s.question.append(f"{He} loses {s.of(b)}.")
        s.lines.append(f"After losing {b}, {s.he} has {s.step(v, '-', b, r)} {s.items}.")
    else:
        s.question.append(f"{He} sells {s.of(b)}.")
        s.lines.append(f"After selling {b}, {s.he} has {s.step(v, '-', b, r)} {s.items}.")
    return r


def _mul(s: _Story, v: int) -> int | None:
    if 2 * v > s.max_value:
        return None
    k = s.rng.randint(2, min(5, s.max_value // v))
    r = v * k
    word = {2: "doubles", 3: "triples"}.get(k)
    if word and s.rng.random() < 0.5:
        s.question.append(f"Then the number of {s.items} {s.he} has {word}.")
    else:
        s.question.append(f"Then {s.he} has {k} times as many {s.items} as before.")
    s.lines.append(f"Then {s.he} has {s.step(v, '*', k, r)} {s.items}.")
    return r


def _packs(s: _Story, v: int) -> int | None:
    """Two operations: k containers of b items, added to what there is."""
    k, b = s.rng.randint(2, 5), s.rng.randint(2, 10)
    if v + k * b > s.max_value:
        return None
    c = s.rng.choice(_CONTAINERS)
    s.question.append(f"{s.he.capitalize()} buys {k} {c} of {s.items} with {b} {s.items} in each.")
    s.lines.append(f"The {c} hold {s.step(k, '*', b, k * b)} {s.items}.")
    r = v + k * b
    s.lines.append(f"So {s.he} has {s.step(v, '+', k * b, r)} {s.items}.")
    return r


_STEPS = {"add": _add, "sub": _sub, "mul": _mul, "packs": _packs}


def _price_end(s: _Story, v: int) -> int | None:
    """The closing price question: one more multiplication, or None when no price fits."""
    p_max = min(max(2, s.max_operand // 2), s.max_value // max(v, 1))
    if v < 1 or p_max < 2:
        return None
    p = s.rng.randint(2, p_max)
    total = v * p
    s.question.append(f"Each {s.item} costs {p} dollars. "
                      f"How many dollars are all of {s.his} {s.items} worth?")
    s.lines.append(f"{s.his.capitalize()} {s.items} are worth {s.step(v, '*', p, total)} dollars.")
    return total


def _problem(rng: random.Random, n_steps: int, cfg: dict) -> dict | None:
    """One word problem with exactly ``n_steps`` operations, or None when the draw ran out of room.

    Returns question, solution (GSM8K style, with notes, ending ``#### N``), answer (int) and
    equations (the bare ``a op b = c`` of each step, for other text formats).
    """
    name, he, his = rng.choice(_PEOPLE)
    item, items = rng.choice(_ITEMS)
    friend = rng.choice(_FRIENDS).format(his=his)
    s = _Story(rng, int(cfg["max_operand"]), int(cfg["max_value"]), name, he, his, item, items, friend)
    v = rng.randint(2, s.max_operand)
    s.question.append(f"{name} has {v} {items}.")
    # A quarter of the problems end with a price question: one more multiplication.
    price_end = rng.random() < 0.25
    steps_left = n_steps - 1 if price_end else n_steps
    for _ in range(20 * n_steps + 20):
        if steps_left <= 0:
            break
        kind = rng.choice(["add", "sub", "mul"] + (["packs"] if steps_left >= 2 else []))
        r = _STEPS[kind](s, v)
        if r is None:
            continue
        v = r
        steps_left -= 2 if kind == "packs" else 1
    if steps_left > 0:
        return None
    if price_end:
        v = _price_end(s, v)
        if v is None:
            return None
    else:
        s.question.append(f"How many {items} does {name} have now?")
    s.lines.append(f"#### {v}")
    return {"question": " ".join(s.question), "solution": "\n".join(s.lines), "answer": v,
            "equations": s.equations}


def draw_problem(rng: random.Random, cfg: dict) -> dict:
    """One problem of 1..``cfg["max_steps"]`` operations (see ``_problem``)."""
    max_steps = int(cfg["max_steps"])
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    for _ in range(1000):
        p = _problem(rng, rng.randint(1, max_steps), cfg)
        if p is not None:
            return p
    raise ValueError(f"toy problems: no problem fits max_value={cfg['max_value']}; raise it.")


def make_problems(n: int, seed: int, cfg: dict, exclude: set[str] | None = None) -> list[dict]:
    """``n`` distinct seeded word problems, none of whose question is in ``exclude``.

    Each is ``{"id", "question", "answer"}`` where ``answer`` is a GSM8K-style gold solution with
    calculator notes ending ``#### N``. The step count is uniform in 1..``cfg["max_steps"]``.
    """
    rng = random.Random(seed)
    exclude = exclude or set()
    seen: set[str] = set()
    out: list[dict] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n + 1000:
            raise ValueError(
                f"could not make {n} distinct problems (max_steps={cfg['max_steps']}, max_operand="
                f"{cfg['max_operand']}): the problem space is too small; raise max_operand or max_steps."
            )
        p = draw_problem(rng, cfg)
        if p["question"] in seen or p["question"] in exclude:
            continue
        seen.add(p["question"])
        out.append({"id": f"toy{seed}-{len(out):05d}", "question": p["question"], "answer": p["solution"]})
    return out


def final_answer(solution: str) -> str:
    """The number after the last ``####`` ('' when there is none)."""
    if "####" not in solution:
        return ""
    tail = solution.rsplit("####", 1)[1].strip().split()
    return tail[0].replace(",", "") if tail else ""


def strip_notes(solution: str) -> str:
    """The solution without ``<<...>>`` calculator notes, as the workflow's SFT targets are."""
    return _CALC_NOTE.sub("", solution)


def build_toy_data(out_dir: str, cfg: dict, seed: int) -> None:
    """Write ``train_1.jsonl``, ``train_2.jsonl``, ``test.jsonl`` (raw GSM8K format) to ``out_dir``.

    ``cfg`` is ``toy.data``. The splits come from one draw of distinct problems, so no question
    appears in two splits.
    """
    sizes = {s: int(cfg[s]) for s in SPLITS}
    for s, k in sizes.items():
        if k < 1:
            raise ValueError(f"toy data: split {s} needs at least one problem, got {k}")
    problems = make_problems(sum(sizes.values()), seed, cfg)
    out = Path(out_dir)
    start = 0
    for s in SPLITS:
        rows = problems[start : start + sizes[s]]
        start += sizes[s]
        write_jsonl(out / f"{s}.jsonl", (
            {"id": f"toy-{s}-{i:05d}", "question": r["question"], "answer": r["answer"]}
            for i, r in enumerate(rows)
        ))


def read_split(data_dir: str | Path, split: str, fields: dict | None = None) -> list[dict]:
    """One split of the toy data (``{s}.jsonl`` in ``data_dir``), its ``question`` checked."""
    return read_jsonl(Path(data_dir) / f"{split}.jsonl", fields or {"question": str})


def questions_of_splits(data_dir: str | Path) -> set[str]:
    """Every question of the toy data's splits in ``data_dir``: what a pretraining text and the fresh
    test problems leave out."""
    questions: set[str] = set()
    for s in SPLITS:
        questions |= {r["question"] for r in read_split(data_dir, s)}
    return questions
