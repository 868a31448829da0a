"""What the report rules tell the tables: the method rows, their roles, the seeds, the grading and
accuracy modes.

The report code holds no list of methods: the rule passes every row (key, label, stage and, for
stage I, the iteration) in display order, and which rows play the roles of the weak floor, the
strong ceiling, full weak fine-tuning and M_plus. A preference method the report has never seen
is a stage II row like any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The stages a row may belong to (the rule's contract): rows of one stage share a colour in the
# figures; stage II rows get their gain over M_plus.
STAGES = ("baselines", "stage I", "stage II", "ceiling")
ROLES = ("floor", "ceiling", "full_weak", "m_plus")


class SpecError(ValueError):
    """The report params of a rule are malformed (a workflow bug, not a user's input)."""


@dataclass(frozen=True)
class MethodRow:
    key: str
    label: str
    stage: str
    iteration: int | None = None

    @property
    def group(self) -> str:
        """Rows of one group sit between rules in the rendered tables (stage I: one per iteration)."""
        if self.stage == "stage I" and self.iteration is not None:
            return f"stage I, iteration {self.iteration}"
        return self.stage


@dataclass(frozen=True)
class Roles:
    floor: str
    ceiling: str
    full_weak: str
    m_plus: str


@dataclass(frozen=True)
class TableSpec:
    """The rows of the main table in display order, their roles, the seeds, the grading mode (how
    the filter and the vote compared answers) and the accuracy mode (which grader the table's
    accuracies come from: grading.accuracy)."""

    rows: tuple[MethodRow, ...]
    roles: Roles
    seeds: tuple[int, ...]
    grading_mode: str
    accuracy_mode: str

    def row(self, key: str) -> MethodRow:
        return self._by_key[key]

    @property
    def _by_key(self) -> dict[str, MethodRow]:
        return {r.key: r for r in self.rows}

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.rows]

    def gain_reference(self, key: str) -> str | None:
        """The row a method's gain is measured against: M_plus for stage II, full weak FT for M_plus."""
        if self.row(key).stage == "stage II":
            return self.roles.m_plus
        if key == self.roles.m_plus:
            return self.roles.full_weak
        return None

    @property
    def gain_rows(self) -> list[MethodRow]:
        """Rows with a gain, in display order: M_plus (stage I's gain), then the stage II methods."""
        return [self.row(self.roles.m_plus)] + [r for r in self.rows if r.stage == "stage II"]


def _method_row(i: int, item: object) -> MethodRow:
    where = f"report params: methods[{i}]"
    if not isinstance(item, Mapping):
        raise SpecError(f"{where}: expected a mapping with key, label, stage, iteration; got {item!r}")
    key, label, stage, iteration = (item.get(k) for k in ("key", "label", "stage", "iteration"))
    if not isinstance(key, str) or not key or not isinstance(label, str) or not label:
        raise SpecError(f"{where}: 'key' and 'label' must be non-empty strings; got {dict(item)!r}")
    if stage not in STAGES:
        raise SpecError(f"{where} ({key}): stage {stage!r} is not one of {', '.join(STAGES)}")
    if iteration is not None and (isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 1):
        raise SpecError(f"{where} ({key}): iteration must be a positive integer or null; got {iteration!r}")
    if stage == "stage I" and iteration is None:
        raise SpecError(f"{where} ({key}): a stage I row needs its iteration")
    return MethodRow(key=key, label=label, stage=stage, iteration=iteration)


def table_spec(methods: Sequence[Mapping], roles: Mapping[str, str], seeds: Sequence[int],
               grading_mode: str, accuracy_mode: str) -> TableSpec:
    """Check the rule's params and return them as a TableSpec."""
    rows = tuple(_method_row(i, m) for i, m in enumerate(methods))
    keys = [r.key for r in rows]
    if not rows or len(set(keys)) != len(keys):
        raise SpecError(f"report params: methods must list each key once; got {keys}")
    missing = [r for r in ROLES if not isinstance(roles.get(r), str)]
    if missing or set(roles) - set(ROLES):
        raise SpecError(f"report params: roles must map exactly {', '.join(ROLES)} to method keys; got {dict(roles)!r}")
    unknown = sorted({roles[r] for r in ROLES} - set(keys))
    if unknown:
        raise SpecError(f"report params: roles name {unknown}, which are not among the methods {keys}")
    by_key = {r.key: r for r in rows}
    if by_key[roles["ceiling"]].stage != "ceiling" or by_key[roles["m_plus"]].stage != "stage I":
        raise SpecError("report params: the ceiling role needs a 'ceiling' row and m_plus a 'stage I' row")
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) for s in seeds) or len(set(seeds)) != len(seeds):
        raise SpecError(f"report params: seeds must be a non-empty list of distinct integers; got {list(seeds)!r}")
    if not isinstance(grading_mode, str) or not grading_mode:
        raise SpecError(f"report params: grading_mode must be a non-empty string; got {grading_mode!r}")
    if not isinstance(accuracy_mode, str) or not accuracy_mode:
        raise SpecError(f"report params: accuracy_mode must be a non-empty string; got {accuracy_mode!r}")
    return TableSpec(rows=rows, roles=Roles(**{r: roles[r] for r in ROLES}), seeds=tuple(seeds),
                     grading_mode=grading_mode, accuracy_mode=accuracy_mode)
