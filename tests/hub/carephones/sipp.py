"""SIPp (Debian's ``sip-tester``) playing a SCAIP unit: one scenario per message.

Each scenario sends one SIP ``MESSAGE`` with a SCAIP ``<mrq>`` body (or whatever a test
puts there) and expects one final response; SIPp exits 0 only when the response is the
expected one and, for a 200, when its body holds the expected ``<mrs>``. SIPp runs as a
subprocess, so the hub's event loop keeps serving while it waits.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

SIPP = shutil.which("sipp")
needs_sipp = pytest.mark.skipif(SIPP is None, reason="sipp (Debian sip-tester) is not installed")


def mrq(cid: str, ref: str, stc: str | None = "10", **fields: str) -> str:
    """A SCAIP message request body as a unit writes it."""
    parts = [f"<ref>{ref}</ref>", f"<cid>{cid}</cid>", f"<dty>{fields.pop('dty', '0002')}</dty>"]
    if stc is not None:
        parts.append(f"<stc>{stc}</stc>")
    parts += [f"<{name}>{value}</{name}>" for name, value in fields.items()]
    return '<?xml version="1.0" encoding="UTF-8"?><mrq>' + "".join(parts) + "</mrq>"


def scenario(
    body: str,
    expect: int,
    *,
    ref: str | None = None,
    content_type: str = "text/xml",
    method: str = "MESSAGE",
) -> str:
    """A SIPp client scenario: send ``body``, expect status ``expect`` (and, for 200, an
    ``<mrs>`` echoing ``ref`` with status number 0)."""
    check = ""
    if expect == 200 and ref is not None:
        check = f"""
    <action>
      <ereg regexp="&lt;mrs&gt;&lt;ref&gt;{ref}&lt;/ref&gt;&lt;snu&gt;0&lt;/snu&gt;&lt;/mrs&gt;"
            search_in="body" check_it="true" assign_to="mrs"/>
    </action>"""
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="SCAIP unit">
  <send retrans="500">
    <![CDATA[
{method} sip:arc@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
Max-Forwards: 70
From: <sip:unit@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:arc@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 {method}
Content-Type: {content_type}
Content-Length: [len]

{body}
    ]]>
  </send>
  <recv response="{expect}">{check}
  </recv>{'<Reference variables="mrs"/>' if check else ""}
</scenario>
"""


def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP on the loopback."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def free_media_port() -> int:
    """An even port with the three above it free on UDP: SIPp binds its audio RTP port,
    and two above it for video, whether the scenario has video or not."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1]) & ~1
        if base + 3 > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + 4):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base


BIND_TRIES = 3


@dataclass
class SippRun:
    """What one SIPp run did."""

    returncode: int
    output: str
    errors: str


async def run_sipp(
    workdir: Path, name: str, scenario_text: str, port: int, transport: str = "udp"
) -> SippRun:
    """Play ``scenario_text`` once against 127.0.0.1:``port`` over UDP or TCP.

    The ports SIPp binds are picked free and then closed for it to bind: another process
    (the other pytest worker, any socket given an ephemeral port) can take one in between,
    and SIPp then stops before sending anything ("Address already in use"). That run is
    played again on other ports, up to :data:`BIND_TRIES` times."""
    assert SIPP is not None
    path = workdir / f"{name}.xml"
    path.write_text(scenario_text, encoding="iso-8859-1")
    errors = workdir / f"{name}.errors.log"
    for _ in range(BIND_TRIES):
        errors.unlink(missing_ok=True)
        process = await asyncio.create_subprocess_exec(
            SIPP, f"127.0.0.1:{port}",
            "-sf", str(path), "-m", "1", "-t", "u1" if transport == "udp" else "t1",
            "-i", "127.0.0.1", "-p", str(free_udp_tcp_port()),
            "-mi", "127.0.0.1", "-mp", str(free_media_port()),
            "-nostdin", "-timeout", "30s", "-timeout_error",
            "-trace_err", "-error_file", str(errors),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL, cwd=workdir,
        )  # fmt: skip
        out, _ = await process.communicate()
        text = errors.read_text(errors="replace") if errors.exists() else ""
        assert process.returncode is not None
        run = SippRun(process.returncode, out.decode(errors="replace")[-2000:], text[-2000:])
        if run.returncode == 0 or not _lost_a_port(run):
            return run
    return run


def _lost_a_port(run: SippRun) -> bool:
    """SIPp could not bind a port it was given (taken since it was found free)."""
    said = run.output + run.errors
    return "errno = 98" in said or "Address already in use" in said
