"""The ``teleassist`` command line, its configuration loader and local service helpers."""

__version__ = "0.1.0"
