"""HAR Studio: human activity recognition from smartphone motion sensors."""

__version__ = "0.1.0"
APP_NAME = "HAR Studio"
ORG_NAME = "HAR Studio"
