"""The Data tab: ``tab`` composes ``panel`` (open buttons, window/split/class settings) and
``view`` (charts, window counts); ``controller`` loads data and counts windows off the GUI
thread and also serves the main window's menus, drag and drop and start-up loading."""

from .controller import DataController
from .tab import DataTab

__all__ = ["DataController", "DataTab"]
