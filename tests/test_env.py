"""codebase.setup makes runs repeatable; the Sphinx extension finds MathJax."""
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import codebase


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_setup_makes_every_generator_repeat():
    codebase.setup(seed=123, plots=False)
    first = _draws()
    codebase.setup(seed=123, plots=False)
    assert _draws() == first
    codebase.setup(seed=124, plots=False)
    assert _draws() != first


def test_setup_fixes_thread_count_and_determinism():
    codebase.setup(seed=0, threads=2, plots=False)
    assert torch.get_num_threads() == 2
    assert torch.are_deterministic_algorithms_enabled()
    codebase.setup(seed=0, threads=1, plots=False)
    assert torch.get_num_threads() == 1


def test_setup_configures_png_figures():
    import matplotlib

    codebase.setup(seed=0)
    assert matplotlib.rcParams["figure.dpi"] == 80
    assert matplotlib.rcParams["figure.figsize"] == [6.4, 4.0]


@pytest.mark.parametrize("kwargs, error, word", [
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": 1.5}, TypeError, "seed"),
    ({"seed": 2**32}, ValueError, "seed"),
    ({"threads": 0}, ValueError, "threads"),
    ({"threads": "2"}, TypeError, "threads"),
])
def test_setup_rejects_bad_arguments(kwargs, error, word):
    with pytest.raises(error, match=word):
        codebase.setup(**kwargs)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_module"):
        codebase.no_such_module  # noqa: B018


@pytest.mark.parametrize("value", [0.25, 3, "Adam", np.float64(1e-8), [1, 2]])
@pytest.mark.parametrize("display", [True, False])
def test_glue_writes_what_myst_nb_glue_writes(monkeypatch, value, display):
    from IPython import display as ipython_display
    from myst_nb.ext import glue as myst_glue

    calls = []
    monkeypatch.setattr(myst_glue, "ipy_display", lambda *a, **k: calls.append((a, k)))
    myst_glue.glue("x", value, display)
    monkeypatch.setattr(ipython_display, "display", lambda *a, **k: calls.append((a, k)))
    codebase.glue("x", value, display)
    assert len(calls) == 2 and calls[0] == calls[1]
    bundle = calls[1][0][0]
    prefix = "" if display else "application/papermill.record/"
    assert bundle[prefix + "text/plain"] == repr(value)


@pytest.mark.parametrize("args, error, word", [
    (("", 1.0), TypeError, "name"), ((3, 1.0), TypeError, "name"),
    (("x", 1.0, "no"), TypeError, "display")])
def test_glue_rejects_bad_arguments(args, error, word):
    with pytest.raises(error, match=word):
        codebase.glue(*args)


@pytest.mark.parametrize("value, digits, stored", [
    (0.058158040046691895, 3, 0.0582), (0.05815805122256279, 3, 0.0582), (1234.5, 2, 1200.0),
    (np.float32(0.1), 4, 0.1), (torch.tensor(2.0 / 3.0), 3, 0.667), (np.array([7.25]), 2, 7.2), (-3, 5, -3.0)])
def test_glue_with_digits_stores_the_rounded_float(monkeypatch, value, digits, stored):
    from IPython import display as ipython_display

    calls = []
    monkeypatch.setattr(ipython_display, "display", lambda *a, **k: calls.append((a, k)))
    codebase.glue("x", value, display=False, digits=digits)
    assert calls[0][0][0]["application/papermill.record/text/plain"] == repr(stored)


@pytest.mark.parametrize("value, digits, error, word", [
    (float("inf"), 3, ValueError, "finite"), (float("nan"), 3, ValueError, "NaN"), ("0.5", 3, TypeError, "value"),
    (torch.ones(2), 3, TypeError, "2 elements"), (0.5, 0, ValueError, "digits"), (0.5, 2.0, TypeError, "digits")])
def test_glue_with_digits_rejects_what_it_cannot_round(value, digits, error, word):
    with pytest.raises(error, match=word):
        codebase.glue("x", value, display=False, digits=digits)
