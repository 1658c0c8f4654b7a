"""Entry script for the PyInstaller bundle (build.spec): absolute imports only."""

import sys

from har_studio.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
