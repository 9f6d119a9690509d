"""Shared pytest settings: a fast, deterministic hypothesis profile."""
import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "book",
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("book")
torch.set_num_threads(1)
