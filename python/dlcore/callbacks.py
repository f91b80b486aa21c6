"""Callbacks for ``Module.fit`` (Keras' names and arguments).

See :mod:`dlcore.training.callbacks` for the order in which hooks run.
"""

from .training.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from .training.gradient_monitor import GradientMonitor
from .training.history import History
from .training.progress import ProgressBar

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "GradientMonitor",
    "History",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgressBar",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]
