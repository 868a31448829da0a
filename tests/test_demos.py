import pytest

from w2s.demos import sample_demonstrations
from w2s.io import InputError

ROWS = [{"id": f"id{i}", "question": f"q{i}", "response": f"r{i}"} for i in range(20)]


def test_seeded_draw_is_reproducible_and_order_independent():
    a = sample_demonstrations(ROWS, 4, seed=0)
    assert a == sample_demonstrations(list(reversed(ROWS)), 4, seed=0)
    assert len({d["id"] for d in a}) == 4
    assert a != sample_demonstrations(ROWS, 4, seed=1)


def test_only_answers_with_a_final_answer_are_drawn():
    has = {r["id"]: r["id"] in {"id3", "id5", "id7", "id9"} for r in ROWS}
    assert {d["id"] for d in sample_demonstrations(ROWS, 4, seed=0, has_answer=has)} == {"id3", "id5", "id7", "id9"}


def test_listed_ids_are_used_in_order():
    assert [d["id"] for d in sample_demonstrations(ROWS, 4, 0, ids=["id2", "id1"])] == ["id2", "id1"]


def test_errors_are_clear():
    with pytest.raises(InputError, match="not in the weak answers"):
        sample_demonstrations(ROWS, 4, 0, ids=["nope"])
    with pytest.raises(InputError, match="only 1 weak answers"):
        sample_demonstrations(ROWS, 4, 0, has_answer={"id0": True})
