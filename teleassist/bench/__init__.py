"""Benchmarks: each module in this package is one ``teleassist bench NAME``.

A benchmark module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args, config) -> int``, prints its figures and, as its last line, one JSON object.
Benchmarks never fail on a time: they measure and report.
"""
