"""The Live tab: ``tab`` composes ``panel`` (model, source, classification and recording
settings), ``view`` (what a session shows) and ``session`` (the core's ``run_session`` in a
worker, recording); ``plots`` draws the signal, attention, probabilities and timeline."""

from .tab import LiveTab

__all__ = ["LiveTab"]
