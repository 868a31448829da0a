import math

import pytest

from w2s.metrics import accuracy, bootstrap_ci, mean_pass_at_k, pass_at_k, pgr, spread


def test_pass_at_k_hand_computed():
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    # 1 - C(2,2)/C(4,2) = 1 - 1/6
    assert pass_at_k(4, 2, 2) == pytest.approx(5 / 6)
    assert pass_at_k(5, 1, 5) == 1.0
    assert pass_at_k(3, 3, 2) == 1.0


def test_pass_at_1_is_mean_sample_accuracy():
    counts = [(10, 3), (10, 0), (10, 10), (10, 7)]
    assert mean_pass_at_k(counts, 1) == pytest.approx(20 / 40)


def test_pass_at_k_rejects_bad_input():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_bootstrap_ci_contains_estimate_and_is_seeded():
    correct = [True] * 30 + [False] * 70
    lo, hi = bootstrap_ci(correct, resamples=500, seed=0)
    assert lo <= 0.3 <= hi and 0.15 < lo and hi < 0.45
    assert (lo, hi) == bootstrap_ci(correct, resamples=500, seed=0)
    assert bootstrap_ci([True] * 10, resamples=200) == (1.0, 1.0)


def test_bootstrap_ci_width_shrinks_like_sqrt_n():
    small = bootstrap_ci([True, False] * 25, resamples=2000, seed=1)
    large = bootstrap_ci([True, False] * 400, resamples=2000, seed=1)
    ratio = (small[1] - small[0]) / (large[1] - large[0])
    assert 3 < ratio < 5.5  # sqrt(800 / 50) = 4


def test_pgr_and_accuracy():
    assert pgr(25.0, 25.0, 75.0) == 0.0
    assert pgr(75.0, 25.0, 75.0) == 1.0
    assert pgr(50.0, 25.0, 75.0) == 0.5
    assert math.isnan(pgr(1.0, 2.0, 2.0))
    assert accuracy([True, False, True, True]) == 0.75


def test_spread_across_seeds():
    s = spread([52.0, None, 58.0, float("nan"), 61.0])  # undefined values are left out
    assert s["count"] == 3 and s["mean"] == pytest.approx(57.0) and (s["min"], s["max"]) == (52.0, 61.0)
    assert s["sd"] == pytest.approx(math.sqrt(((52 - 57) ** 2 + (58 - 57) ** 2 + (61 - 57) ** 2) / 2))
    one = spread([40.0])
    assert one["mean"] == 40.0 and math.isnan(one["sd"]) and one["count"] == 1
    assert spread([])["count"] == 0 and math.isnan(spread([None])["mean"])
