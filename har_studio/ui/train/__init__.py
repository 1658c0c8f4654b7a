"""The Train tab: ``tab`` composes ``panel`` (settings, past runs, Start/Pause/Stop),
``run_view`` (progress, curves, notes), ``results`` (metrics, confusion, folds) and
``controller`` (the job in its worker, progress buffers); the job itself is
``training.jobs``."""

from .tab import TrainTab

__all__ = ["TrainTab"]
