"""The serial/GPIO stub interface: one line of text per reading.

For hardware makers: anything that can write a line to a serial port, a FIFO or a
pipe can feed the agent, with no Python and no MQTT on the device side. A GPIO
button is a ten-line script that writes ``h1-pendant panic`` when the pin falls.

Grammar (UTF-8, one reading per line, ``#`` starts a comment)::

    <device_id> <event_type> [key=value ...]
    <device_id> telemetry <kind> <value> [unit]

``event_type`` is any contract event type (``panic``, ``motion``, ``door_open``,
``fall``, ``fall_cancelled``, ``smoke``, ``temperature``, ``low_battery``,
``medication_taken`` …) and its fields are given as ``key=value`` (``celsius=31.5``,
``percent=12``, ``cleared=true``, ``room=kitchen``). A value with spaces is quoted
(``schedule="insulin 08:00"``, or single quotes); a text field keeps its value as text
(``schedule=0800`` is not a number). ``room`` defaults to the ``[lines.rooms]`` entry of the
device. Examples::

    h1-pendant panic source=pendant
    h1-door-front door_open door=front
    h1-fall-bathroom fall confidence=0.9
    h1-temp-living telemetry temperature 21.5 Cel

A pill dispenser confirms a dose with ``medication_taken`` and reports one not taken with
``medication_missed``; ``schedule`` says which dose, as well as the dispenser knows it
(docs/adr/0174): the dose's name in the care plan, the time of its compartment (every dose
due then), or nothing (``schedule=``: the doses due nearest, within their window)::

    h1-dispenser medication_taken schedule="insulin 08:00"
    h1-dispenser medication_taken schedule=08:00
    h1-dispenser medication_taken schedule=
    h1-dispenser medication_missed schedule=20:00

A bad line is logged with its reason and skipped; it never stops the source.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import shlex
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect

import protocol
from device_agent.sources.base import Reading, ReadingSink

_LOGGER = logging.getLogger(__name__)


class LineError(ValueError):
    """A line that does not follow the grammar; the message says why."""


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _split(line: str) -> list[str]:
    """The words of ``line``: quotes group (and are removed), ``#`` outside quotes starts a
    comment, a backslash is an ordinary character."""
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    lexer.escape = ""
    try:
        return list(lexer)
    except ValueError as err:  # an unclosed quote
        raise LineError(f"{err.args[0].lower()}: {line.strip()!r}") from None


@functools.cache
def _text_fields(cls: type[protocol.EventBody]) -> frozenset[str]:
    """Fields of ``cls`` that hold text: their values are never read as numbers."""
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    out = set()
    for field in info.fields:
        kind = field.type
        kinds = kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,)
        if any(isinstance(k, msgspec.inspect.StrType) for k in kinds):
            out.add(field.name)
    return frozenset(out)


def parse_line(line: str, rooms: Mapping[str, str] | None = None) -> Reading | None:
    """The reading on ``line``; ``None`` for a blank or comment line; :class:`LineError`."""
    parts = _split(line)
    if not parts:
        return None
    text = " ".join(parts)
    if len(parts) < 2:
        raise LineError(f"expected '<device_id> <event_type> ...', got {text!r}")
    device_id, what, rest = parts[0], parts[1], parts[2:]
    try:
        protocol.validate_device_id(device_id)
    except protocol.TopicError as err:
        raise LineError(str(err)) from None
    room = (rooms or {}).get(device_id)
    body: protocol.Event | protocol.Telemetry
    if what == "telemetry":
        if len(rest) not in (2, 3):
            raise LineError("telemetry needs '<kind> <value> [unit]'")
        raw: dict[str, Any] = {"kind": rest[0], "value": _value(rest[1]), "room": room}
        if len(rest) == 3:
            raw["unit"] = rest[2]
        target: Any = protocol.Telemetry
    else:
        if what not in protocol.EVENT_TYPES:
            raise LineError(f"unknown event type {what!r}")
        raw = {"type": what, "room": room}
        text_fields = _text_fields(protocol.EVENT_TYPES[what])
        for item in rest:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise LineError(f"expected key=value, got {item!r}")
            raw[key] = value if key in text_fields else _value(value)
        target = protocol.Event
    try:
        body = msgspec.convert(raw, target)
    except (msgspec.ValidationError, ValueError) as err:
        raise LineError(f"{what}: {err}") from None
    return Reading(device_id, body, "", body.room)


class LineSource:
    """Reads the line protocol from a file-like path (serial port, FIFO, file).

    Reading is blocking I/O, so a thread reads and hands lines to the event loop.
    At the end of a regular file or a closed FIFO the source returns.
    """

    def __init__(self, path: str | Path, rooms: Mapping[str, str] | None = None) -> None:
        self.path = Path(path)
        self.rooms = dict(rooms or {})
        self.rejected = 0

    async def run(self, sink: ReadingSink) -> None:
        """Forward readings until the stream ends or the task is cancelled."""
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue(1000)
        stop = threading.Event()

        def reader() -> None:
            try:
                with self.path.open("r", encoding="utf-8", errors="replace") as stream:
                    for line in stream:
                        if stop.is_set():
                            return
                        asyncio.run_coroutine_threadsafe(lines.put(line), loop).result()
            finally:
                if not stop.is_set():
                    asyncio.run_coroutine_threadsafe(lines.put(None), loop)

        thread = threading.Thread(target=reader, name=f"lines-{self.path.name}", daemon=True)
        thread.start()
        try:
            while (line := await lines.get()) is not None:
                try:
                    reading = parse_line(line, self.rooms)
                except LineError as err:
                    self.rejected += 1
                    _LOGGER.warning("%s: %s", self.path, err)
                    continue
                if reading is not None:
                    await sink(reading)
        finally:
            stop.set()
