"""The one random generator behind initialisation, dropout and shuffling.

``dlcore.manual_seed(seed)`` makes all of them reproducible.
"""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed dlcore's generator; returns it. Seeds must be non-negative integers."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be non-negative, got {seed}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The generator dlcore draws from."""
    return _generator


def get_rng_state() -> Dict[str, Any]:
    """A copy of the generator's state (a plain dict, savable with ``dlcore.save``)."""
    return dict(_generator.bit_generator.state)


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    _generator.bit_generator.state = state
