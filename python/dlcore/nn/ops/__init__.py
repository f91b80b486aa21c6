"""Implementations behind ``dlcore.nn.functional``, one file per family."""
