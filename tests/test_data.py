"""Tests for codebase.data: the digits splits, the synthetic sets and the mini-batches."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from codebase import data


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def test_digits_shapes_types_and_sizes(digits):
    train, val, test = digits
    assert (len(train), len(val), len(test)) == (1077, 360, 360)
    assert len(train) + len(val) + len(test) == 1797
    for part in digits:
        assert part.X.shape == (len(part), 64) and part.X.dtype == torch.float32
        assert part.y.shape == (len(part),) and part.y.dtype == torch.long


def test_digits_split_is_stratified(digits):
    for part in digits:
        counts = torch.bincount(part.y, minlength=10)
        assert counts.min() > 0
        share = counts.double() / len(part)
        assert torch.allclose(share, torch.full((10,), 0.1, dtype=torch.float64), atol=0.01)


def test_digits_parts_are_disjoint_and_cover_the_set(digits):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    ids = [set(part.index.tolist()) for part in digits]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert ids[0] | ids[1] | ids[2] == set(range(1797))
    raw = data.load_digits(standardize=False, dtype=torch.float64)
    for part in raw:
        assert torch.equal(part.X, torch.as_tensor(X[part.index.numpy()]))
        assert torch.equal(part.y, torch.as_tensor(y[part.index.numpy()]))


def test_digits_standardized_with_training_statistics_only(digits):
    raw = data.load_digits(standardize=False, dtype=torch.float64)
    mean = raw.train.X.mean(dim=0)
    std = raw.train.X.std(dim=0, unbiased=False)
    std[std == 0] = 1.0
    for scaled, original in zip(digits, raw):
        assert torch.allclose(scaled.X.double(), (original.X - mean) / std, atol=1e-5)
    assert torch.allclose(digits.mean.double(), mean) and torch.allclose(digits.std.double(), std)
    train = digits.train.X
    assert train.mean(dim=0).abs().max() < 1e-5
    varying = raw.train.X.std(dim=0) > 0
    assert torch.allclose(train.std(dim=0, unbiased=False)[varying], torch.ones(int(varying.sum())), atol=1e-4)
    # The validation part was not used: its mean is not exactly 0.
    assert digits.val.X.mean(dim=0).abs().max() > 1e-3


def test_digits_determinism(digits):
    again = data.load_digits()
    other = data.load_digits(seed=1)
    for a, b in zip(digits, again):
        assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y)
    assert not torch.equal(digits.train.X, other.train.X)


def test_digits_options():
    splits = data.load_digits(val_fraction=0.0, test_fraction=0.5, dtype=torch.float64)
    assert len(splits.val) == 0 and splits.val.X.shape == (0, 64)
    assert len(splits.test) == 899 and len(splits.train) == 898
    assert splits.train.X.dtype == torch.float64
    assert data.load_digits(standardize=False).mean is None


@pytest.mark.parametrize("kwargs, error", [
    ({"val_fraction": 0.5, "test_fraction": 0.5}, ValueError),
    ({"val_fraction": -0.1}, ValueError),
    ({"test_fraction": 1.0}, ValueError),
    ({"val_fraction": "0.2"}, TypeError),
    ({"seed": -1}, ValueError),
    ({"dtype": torch.long}, TypeError),
])
def test_digits_validation(kwargs, error):
    with pytest.raises(error):
        data.load_digits(**kwargs)


def test_split_unpacks_and_checks_lengths():
    split = data.Split(torch.zeros(5, 3), torch.zeros(5, dtype=torch.long))
    X, y = split
    assert len(split) == 5 and X.shape == (5, 3) and y.shape == (5,)
    with pytest.raises(ValueError, match="same number of samples"):
        data.Split(torch.zeros(5, 3), torch.zeros(4))
    with pytest.raises(TypeError):
        data.Split(np.zeros((5, 3)), torch.zeros(5))


def test_make_regression_recovers_the_true_weights():
    X, y, w, b = data.make_regression(n=500, d=3, noise=0.01, seed=3, dtype=torch.float64)
    assert X.shape == (500, 3) and y.shape == (500, 1) and w.shape == (3,)
    design = torch.cat([X, torch.ones(500, 1, dtype=torch.float64)], dim=1)
    fitted = torch.linalg.lstsq(design, y).solution.squeeze(1)
    assert torch.allclose(fitted[:3], w, atol=0.01) and abs(fitted[3].item() - b) < 0.01
    noiseless = data.make_regression(n=50, d=2, noise=0.0, seed=3, dtype=torch.float64)
    assert torch.allclose(noiseless.y.squeeze(1), noiseless.X @ noiseless.w + noiseless.b)


@pytest.mark.parametrize("make, kwargs, classes", [
    (data.make_moons, {"n": 201}, 2),
    (data.make_spirals, {"n": 301, "classes": 3}, 3),
    (data.make_spirals, {"n": 40, "classes": 5}, 5),
])
def test_classification_sets_shapes_balance_and_determinism(make, kwargs, classes):
    X, y = make(**kwargs, seed=0)
    n = kwargs["n"]
    assert X.shape == (n, 2) and X.dtype == torch.float32 and y.dtype == torch.long
    counts = torch.bincount(y, minlength=classes)
    assert len(counts) == classes and counts.max() - counts.min() <= 1
    X2, y2 = make(**kwargs, seed=0)
    X3, _ = make(**kwargs, seed=1)
    assert torch.equal(X, X2) and torch.equal(y, y2) and not torch.equal(X, X3)


def test_moons_without_noise_lie_on_their_circles():
    X, y = data.make_moons(n=100, noise=0.0, dtype=torch.float64)
    upper = X[y == 0]
    lower = X[y == 1] - torch.tensor([1.0, 0.5], dtype=torch.float64)
    assert torch.allclose(upper.norm(dim=1), torch.ones(50, dtype=torch.float64))
    assert torch.allclose(lower.norm(dim=1), torch.ones(50, dtype=torch.float64))
    assert (upper[:, 1] >= 0).all() and (lower[:, 1] <= 0).all()


def test_spirals_stay_in_the_unit_disc():
    X, _ = data.make_spirals(noise=0.5)
    assert X.norm(dim=1).max() <= 1.0 + 1e-6


@pytest.mark.parametrize("call", [
    lambda: data.make_moons(n=1),
    lambda: data.make_moons(noise=-0.1),
    lambda: data.make_spirals(n=2, classes=3),
    lambda: data.make_spirals(classes=1),
    lambda: data.make_regression(d=0),
    lambda: data.make_regression(seed=-5),
])
def test_synthetic_validation(call):
    with pytest.raises(ValueError):
        call()


@given(n=st.integers(0, 40), batch_size=st.integers(1, 50), drop_last=st.booleans(), shuffle=st.booleans())
def test_batches_cover_every_sample_once(n, batch_size, drop_last, shuffle):
    X = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    y = torch.arange(n)
    got = list(data.batches(X, y, batch_size, shuffle=shuffle, drop_last=drop_last,
                            generator=torch.Generator().manual_seed(0)))
    assert len(got) == data.num_batches(n, batch_size, drop_last)
    seen = torch.cat([yb for _, yb in got]) if got else torch.zeros(0, dtype=torch.long)
    for i, (Xb, yb) in enumerate(got):
        assert torch.equal(Xb.squeeze(1).long(), yb)
        assert len(yb) == min(batch_size, n) or (i == len(got) - 1 and not drop_last)
    if drop_last and n > 0:
        assert len(seen) == (n // min(batch_size, n)) * min(batch_size, n)
    else:
        assert sorted(seen.tolist()) == list(range(n))
    if not shuffle:
        assert seen.tolist() == list(range(len(seen)))


def test_batches_last_batch_and_full_batch():
    X, y = torch.zeros(10, 2), torch.arange(10)
    assert [len(yb) for _, yb in data.batches(X, y, 4)] == [4, 4, 2]
    assert [len(yb) for _, yb in data.batches(X, y, 4, drop_last=True)] == [4, 4]
    assert [len(yb) for _, yb in data.batches(X, y, 100, drop_last=True)] == [10]


def test_batches_are_deterministic_with_a_seeded_generator():
    X, y = torch.zeros(30, 1), torch.arange(30)

    def order(seed):
        gen = torch.Generator().manual_seed(seed)
        return torch.cat([yb for _, yb in data.batches(X, y, 7, generator=gen)]).tolist()

    assert order(0) == order(0)
    assert order(0) != order(1)
    gen = torch.Generator().manual_seed(0)
    first = torch.cat([yb for _, yb in data.batches(X, y, 7, generator=gen)]).tolist()
    second = torch.cat([yb for _, yb in data.batches(X, y, 7, generator=gen)]).tolist()
    assert first != second  # each epoch draws a new permutation


def test_batches_validation_is_immediate():
    X, y = torch.zeros(10, 2), torch.arange(10)
    with pytest.raises(ValueError, match="batch_size"):
        data.batches(X, y, 0)
    with pytest.raises(TypeError, match="batch_size"):
        data.batches(X, y, 2.5)
    with pytest.raises(ValueError, match="same number of samples"):
        data.batches(X, y[:9], 2)
    with pytest.raises(TypeError, match="generator"):
        data.batches(X, y, 2, generator=0)
    with pytest.raises(ValueError, match="batch_size"):
        data.num_batches(10, 0)
