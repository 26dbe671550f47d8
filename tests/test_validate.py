"""ddpm_ot_lib._validate: the shared argument checks (the integer check, paired point clouds)."""

import numpy as np
import pytest

from ddpm_ot_lib import _validate as check


def test_count_returns_a_python_int():
    assert check.count(np.int64(3), "n") == 3 and type(check.count(np.int64(3), "n")) is int
    assert check.count(0, "seed", 0) == 0
    assert check.positive_int(5, "n") == 5


@pytest.mark.parametrize(
    "value, minimum, pattern",
    [
        (0, 1, r"^n must be an integer >= 1, got 0$"),
        (2.5, 1, r"^n must be an integer >= 1, got 2\.5$"),
        (True, 1, r"^n must be an integer >= 1, got True$"),
        (1, 2, r"^n must be an integer >= 2, got 1$"),
        ("3", 0, r"^n must be an integer >= 0, got '3'$"),
    ],
)
def test_count_rejects(value, minimum, pattern):
    with pytest.raises(ValueError, match=pattern):
        check.count(value, "n", minimum)


def test_positive_int_is_count_from_one():
    with pytest.raises(ValueError, match=r"^k must be an integer >= 1, got 0$"):
        check.positive_int(0, "k")


def test_paired_points():
    x0, x1 = check.paired_points([[0, 1], [2, 3]], np.ones((2, 2)))
    assert x0.dtype == np.float64 and x0.shape == x1.shape == (2, 2)


@pytest.mark.parametrize(
    "x1, names, pattern",
    [
        (np.zeros((3, 2)), ("x0", "x1"), r"^x0 and x1 must hold the same number of points, got 2 and 3$"),
        (np.zeros((2, 3)), ("z", "z_ref"), r"^z_ref must have 2 columns \(dimension d = 2\), got shape \(2, 3\)$"),
    ],
)
def test_paired_points_rejects(x1, names, pattern):
    with pytest.raises(ValueError, match=pattern):
        check.paired_points(np.zeros((2, 2)), x1, names)


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda: check.float_array("abc", "v"), TypeError, r"^v must be an array of real numbers, got str$"),
        (lambda: check.float_array(object(), "v"), TypeError, r"^v must be an array of real numbers, got object$"),
        (lambda: check.finite(np.array([1.0, np.nan]), "v"), ValueError, r"^v must be finite; it contains NaN or inf$"),
    ],
)
def test_array_checks_reject(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
