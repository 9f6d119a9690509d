"""codebase.data reads the digits and splits them without importing scikit-learn, with sklearn's exact results."""
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits as sklearn_digits
from sklearn.model_selection import train_test_split

from codebase import data
from codebase.data import digits


def test_digits_arrays_equal_sklearns():
    X, y = digits._digits_arrays()
    X_ref, y_ref = sklearn_digits(return_X_y=True)
    assert X.dtype == X_ref.dtype and y.dtype == y_ref.dtype
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_digits_arrays_are_copies():
    X, y = digits._digits_arrays()
    X[:] = -1.0
    y[:] = -1
    X2, y2 = digits._digits_arrays()
    assert X2.min() == 0.0 and y2.min() == 0


@pytest.mark.parametrize("seed", [0, 1, 7, 42, 2**32 - 1])
@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.2, 0.25, 1 / 3, 0.5, 0.9])
def test_split_of_digits_equals_train_test_split(seed, fraction):
    _, y = digits._digits_arrays()
    index = np.arange(len(y))
    kept, taken = digits._stratified_split(index, y, fraction, seed)
    kept_ref, taken_ref = train_test_split(index, test_size=fraction, random_state=seed, stratify=y)
    np.testing.assert_array_equal(kept, kept_ref)
    np.testing.assert_array_equal(taken, taken_ref)


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(2, 30), min_size=2, max_size=6),
       fraction=st.floats(0.05, 0.95), seed=st.integers(0, 2**32 - 1), offset=st.integers(0, 1000))
def test_split_equals_train_test_split(counts, fraction, seed, offset):
    labels = np.repeat(np.arange(len(counts)), counts)
    np.random.default_rng(seed).shuffle(labels)
    index = np.arange(len(labels)) + offset
    try:
        expected = train_test_split(index, test_size=fraction, random_state=seed, stratify=labels)
    except ValueError as error:  # too few samples for a stratified split: the same error
        with pytest.raises(ValueError, match=re.escape(str(error)[:40])):
            digits._stratified_split(index, labels, fraction, seed)
        return
    kept, taken = digits._stratified_split(index, labels, fraction, seed)
    np.testing.assert_array_equal(kept, expected[0])
    np.testing.assert_array_equal(taken, expected[1])


def test_load_digits_does_not_import_sklearn():
    code = ("import sys, codebase.data as d; s = d.load_digits(); "
            "print('sklearn' in sys.modules, len(s.train), len(s.val), len(s.test))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "1077", "360", "360"]
