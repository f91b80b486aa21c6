"""The one random generator behind initialisation, dropout and shuffling.

``dlcore.manual_seed(seed)`` makes all of them reproducible.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

# Made on first use: ``numpy.random`` takes longer to import than the rest of dlcore together
# (it pulls in ``secrets`` and OpenSSL's hashes), so ``import dlcore`` does not touch it.
_generator: Optional[np.random.Generator] = None


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
    global _generator
    if _generator is None:
        _generator = np.random.default_rng()
    return _generator


def get_rng_state() -> Dict[str, Any]:
    """A copy of the generator's state (a plain dict, savable with ``dlcore.save``)."""
    return dict(default_generator().bit_generator.state)


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    default_generator().bit_generator.state = state
