"""HAR Studio: human activity recognition from smartphone motion sensors."""

__version__ = "0.1.0"
APP_NAME = "HAR Studio"
ORG_NAME = "HAR Studio"

# OpenMP reads its wait policy once, when torch loads: set it before anything imports torch
# (see threads.py; a value already in the environment wins).
from .threads import apply_wait_policy as _apply_wait_policy  # noqa: E402

_apply_wait_policy()
