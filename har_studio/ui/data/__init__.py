"""The Data tab: ``tab`` composes ``panel`` (open buttons, window/split/class settings),
``view`` (charts, the signal plot with ``spans``' span selection and activity bands, window
counts) and ``labelling`` (label, crop, split, undo and save a labelled copy, over the core's
``data.labels``); ``controller`` loads data and counts windows off the GUI thread, asks who and
what for a phone recording (``import_dialog``), and also serves the main window's menus, drag
and drop and start-up loading."""

from .controller import DataController
from .tab import DataTab

__all__ = ["DataController", "DataTab"]
