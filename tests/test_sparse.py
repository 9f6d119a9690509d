"""Tests for codebase.data.sparse: the Zipf frequency profile and the sparse classification set."""
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from codebase.data import sparse


def test_zipf_frequencies_follow_the_formula():
    f = sparse.zipf_frequencies(5, max_frequency=0.4, exponent=2.0)
    expected = torch.tensor([0.4 / (j + 1) ** 2 for j in range(5)], dtype=torch.float64)
    assert f.dtype == torch.float64 and f.shape == (5,)
    assert torch.allclose(f, expected)
    assert torch.equal(sparse.zipf_frequencies(3, exponent=0.0), torch.full((3,), 0.5, dtype=torch.float64))


def test_shapes_types_and_values():
    data = sparse.make_sparse_classification(n=300, d=20, seed=1)
    assert data.X.shape == (300, 20) and data.X.dtype == torch.float32
    assert data.y.shape == (300,) and data.y.dtype == torch.float32
    assert data.w.shape == (20,) and data.frequency.shape == (20,)
    assert set(data.X.unique().tolist()) <= {0.0, 1.0}
    assert set(data.y.unique().tolist()) == {0.0, 1.0}
    assert sparse.make_sparse_classification(n=5, d=3, dtype=torch.float64).X.dtype == torch.float64


def test_same_seed_same_set_other_seed_other_set():
    a = sparse.make_sparse_classification(n=200, d=30, seed=3)
    b = sparse.make_sparse_classification(n=200, d=30, seed=3)
    c = sparse.make_sparse_classification(n=200, d=30, seed=4)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a.X, c.X) and not torch.equal(a.w, c.w)


def test_sparsity_profile_matches_the_frequencies():
    data = sparse.make_sparse_classification(n=20000, d=50, max_frequency=0.5, exponent=1.0, seed=0)
    observed = data.X.double().mean(dim=0)
    # Binomial standard error, with a generous 5-sigma margin.
    se = (data.frequency * (1 - data.frequency) / 20000).sqrt()
    assert torch.all((observed - data.frequency).abs() < 5 * se + 1e-4)
    assert observed[0] > 20 * observed[-1]   # frequent head, rare tail


def test_noise_one_is_the_logistic_model():
    # With every feature always active (max_frequency=1, exponent=0) the logit is sum(w)
    # for every example, so the share of positive labels estimates sigmoid(sum(w)).
    data = sparse.make_sparse_classification(n=40000, d=2, max_frequency=1.0, exponent=0.0,
                                             weight_scale=0.5, noise=1.0, seed=2, dtype=torch.float64)
    p = torch.sigmoid(data.w.sum()).item()
    assert abs(data.y.mean().item() - p) < 5 * math.sqrt(p * (1 - p) / 40000)


def test_noise_zero_gives_noiseless_labels():
    data = sparse.make_sparse_classification(n=500, d=10, noise=0.0, seed=5, dtype=torch.float64)
    logits = data.X @ data.w
    assert torch.equal(data.y, (logits > 0).double())


@pytest.mark.parametrize("kwargs, error", [
    (dict(n=0), ValueError), (dict(d=0), ValueError), (dict(n=2.5), TypeError),
    (dict(max_frequency=0.0), ValueError), (dict(max_frequency=1.5), ValueError),
    (dict(exponent=-1.0), ValueError), (dict(weight_scale=0.0), ValueError),
    (dict(noise=-0.1), ValueError), (dict(seed=-1), ValueError), (dict(dtype=torch.long), TypeError),
    (dict(noise=float("nan")), ValueError),
])
def test_bad_arguments_are_rejected(kwargs, error):
    with pytest.raises(error):
        sparse.make_sparse_classification(**{"n": 10, "d": 5, **kwargs})


@given(n=st.integers(1, 40), d=st.integers(1, 40), seed=st.integers(0, 2**31))
def test_any_valid_size_works(n, d, seed):
    data = sparse.make_sparse_classification(n=n, d=d, seed=seed)
    assert data.X.shape == (n, d) and data.y.shape == (n,)
    assert torch.all(data.frequency[:-1] >= data.frequency[1:])
