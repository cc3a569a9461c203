"""Screenshots: each module in this package renders one area's screens.

An area module defines ``AREA`` (``operator``, ``family``, ``tablet``, ``visor``,
``service``, …) and ``async def capture(out_dir, languages) -> list[Path]`` or a plain
``capture`` for areas that need their own process; files are named
``<area>-<screen>-<lang>-<W>x<H>.png``.
"""
