"""Training the Keras way on any Module: ``compile``, ``fit``, ``evaluate``, ``predict``.

Kept light: ``dlcore.nn.module`` imports ``training.keras_api`` while ``dlcore.nn`` is being
initialised, so nothing in this package imports ``dlcore.nn`` at module level. The public
faces are ``dlcore.callbacks`` and ``dlcore.metrics``.
"""

from .keras_api import KerasMixin

__all__ = ["KerasMixin"]
