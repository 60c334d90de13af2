"""Model-stage errors, importable without torch: the command line catches them before it loads a model."""

from __future__ import annotations


class ModelLoadError(RuntimeError):
    """A checkpoint is missing, unreadable or for another architecture."""
