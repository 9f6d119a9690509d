"""Data for the chapters: scikit-learn's handwritten digits, small synthetic sets, sparse
features, mini-batches.

Every function that draws random numbers takes a ``seed`` (or a ``torch.Generator``),
so the same call gives the same tensors on every machine. The modules: ``digits``
(:func:`load_digits`), ``synthetic`` (regression, moons, spirals), ``sparse`` (sparse
binary features with a Zipf-like profile, for the adaptive methods), ``batches``, and
``splits`` (the containers they return).
"""
from .batches import batches, num_batches
from .digits import load_digits
from .sparse import SparseClassification, make_sparse_classification, zipf_frequencies
from .splits import Split, Splits
from .synthetic import Regression, make_moons, make_regression, make_spirals

__all__ = ["Split", "Splits", "Regression", "load_digits", "make_regression", "make_moons",
           "make_spirals", "batches", "num_batches", "SparseClassification", "zipf_frequencies",
           "make_sparse_classification"]
