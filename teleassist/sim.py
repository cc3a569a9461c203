"""``teleassist sim``: simulated homes.

- ``teleassist sim fleet --homes N --broker HOST:PORT --duration S [--rate R] [--qos 0|1]``:
  the load generator (one MQTT connection per gateway, few processes). Prints progress
  and, as its last line, one JSON object: homes, connections, msgs_sent, msgs_per_s,
  duration_s, rss_mb (and details).
- ``teleassist sim home [--homes 3] [--broker HOST:PORT] [--days 1] [--speed 600]``:
  simulated homes through real device agents in accelerated time (a private Mosquitto
  is started when no broker is given).
- ``teleassist sim trace --profile frail --days 7 --seed 1``: print a trace summary and
  its ground truth (handy to see what the model does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import sys
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from config import Config, ConfigError, MqttSettings
from firmware_sim.fleet import FleetSpec, raise_open_files_limit, run_fleet, stats_dict

HOMES_PER_PROCESS = 5000


def _broker(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``fleet``, ``home`` and ``trace`` sub-subcommands."""
    sub = parser.add_subparsers(dest="sim_command", metavar="SIM", required=True)
    fleet = sub.add_parser("fleet", help="fleet load generator (N gateways)")
    fleet.add_argument("--homes", type=int, required=True)
    fleet.add_argument("--broker", type=_broker, required=True, help="HOST:PORT")
    fleet.add_argument("--duration", type=float, default=20.0, help="seconds of publishing")
    fleet.add_argument(
        "--rate", type=float, default=None, help="total msgs/s (default: 1 per home)"
    )
    fleet.add_argument("--qos", type=int, choices=[0, 1], default=0, help="telemetry QoS")
    fleet.add_argument("--processes", type=int, default=None, help="generator processes")
    fleet.add_argument("--prefix", default="fleet-h", help="home id prefix")
    fleet.add_argument("--password", default=None, help="password for every gateway")
    home = sub.add_parser("home", help="simulated homes through real agents, accelerated")
    home.add_argument("--homes", type=int, default=3)
    home.add_argument("--broker", type=_broker, default=None, help="HOST:PORT (default: private)")
    home.add_argument("--days", type=int, default=1)
    home.add_argument("--speed", type=float, default=600.0, help="simulated seconds per second")
    home.add_argument("--seed", type=int, default=1)
    home.add_argument("--incident-rate", type=float, default=0.3)
    home.add_argument("--prefix", default="sim-h")
    home.add_argument("--duration", type=float, default=None, help="stop after N real seconds")
    trace = sub.add_parser("trace", help="summarise a simulated trace and its ground truth")
    trace.add_argument("--profile", default="active")
    trace.add_argument("--days", type=int, default=7)
    trace.add_argument("--seed", type=int, default=1)
    trace.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 12))
    trace.add_argument("--incident-rate", type=float, default=0.3)


def _fleet_worker(spec: FleetSpec, results: Any) -> None:
    try:
        stats = asyncio.run(run_fleet(spec))
        results.put(stats_dict(stats))
    except BaseException as err:  # report, never hang the parent
        results.put({"error": f"{type(err).__name__}: {err}"})
        raise


def run_fleet_command(args: argparse.Namespace) -> int:
    """Split the homes over processes, run them, aggregate, print the JSON line."""
    if args.homes < 1:
        raise ConfigError("--homes must be at least 1")
    raise_open_files_limit()
    host, port = args.broker
    processes = args.processes or max(1, math.ceil(args.homes / HOMES_PER_PROCESS))
    rate = args.rate if args.rate is not None else float(args.homes)
    share, extra = divmod(args.homes, processes)
    specs, first = [], 0
    for p in range(processes):
        count = share + (1 if p < extra else 0)
        specs.append(
            FleetSpec(
                host=host,
                port=port,
                first_home=first,
                homes=count,
                duration_s=args.duration,
                rate=rate * count / args.homes,
                qos=args.qos,
                prefix=args.prefix,
                password=args.password,
            )
        )
        first += count
    print(
        f"fleet: {args.homes} homes in {processes} process(es) -> {host}:{port},"
        f" target {rate:.0f} msgs/s for {args.duration:.0f} s (qos {args.qos})",
        flush=True,
    )
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_fleet_worker, args=(s, results)) for s in specs]
    for worker in workers:
        worker.start()
    collected = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    errors = [r["error"] for r in collected if "error" in r]
    ok = [r for r in collected if "error" not in r]
    for index, r in enumerate(ok):
        print(
            f"process {index}: {r['connections']}/{r['homes']} connected in {r['connect_s']:.1f} s,"
            f" sent {r['msgs_sent']} ({r['msgs_per_s']:.0f} msgs/s), rss {r['rss_mb']:.0f} MiB",
            flush=True,
        )
    for error in errors:
        print(f"process failed: {error}", file=sys.stderr)
    summary = {
        "homes": args.homes,
        "connections": sum(r["connections"] for r in ok),
        "connect_errors": sum(r["connect_errors"] for r in ok),
        "msgs_sent": sum(r["msgs_sent"] for r in ok),
        "msgs_acked": sum(r["msgs_acked"] for r in ok),
        "msgs_per_s": round(sum(r["msgs_per_s"] for r in ok), 1),
        "target_msgs_per_s": rate,
        "duration_s": round(max((r["duration_s"] for r in ok), default=0.0), 2),
        "connect_s": round(max((r["connect_s"] for r in ok), default=0.0), 2),
        "rss_mb": round(sum(r["rss_mb"] for r in ok), 1),
        "processes": processes,
        "qos": args.qos,
    }
    print(
        f"fleet: {summary['connections']} connections, {summary['msgs_sent']} messages,"
        f" {summary['msgs_per_s']} msgs/s",
        flush=True,
    )
    print(json.dumps(summary), flush=True)
    return 1 if errors else 0


def run_home_command(args: argparse.Namespace, config: Config) -> int:
    """Run simulated homes through agents (private broker unless ``--broker``)."""
    from firmware_sim.homes import run_homes
    from teleassist.localbroker import running_mosquitto

    async def go(mqtt: MqttSettings, queue_dir: Path) -> int:
        runs = await run_homes(
            homes=args.homes,
            mqtt=mqtt,
            queue_dir=queue_dir,
            days=args.days,
            speed=args.speed,
            seed=args.seed,
            incident_rate=args.incident_rate,
            prefix=args.prefix,
            duration_s=args.duration,
        )
        for r in runs:
            print(
                f"{r.home_id} ({r.profile}): {r.delivered}/{r.records} readings,"
                f" {r.published} published, {r.incidents} incident(s)",
                flush=True,
            )
        print(json.dumps({"homes": len(runs), "published": sum(r.published for r in runs)}))
        return 0

    with tempfile.TemporaryDirectory(prefix="ta-sim-") as tmp:
        if args.broker is None:
            with running_mosquitto(Path(tmp)) as broker:
                print(f"broker: private Mosquitto on 127.0.0.1:{broker.port}", flush=True)
                return asyncio.run(go(MqttSettings(port=broker.port), Path(tmp)))
        host, port = args.broker
        base = config.mqtt
        mqtt = MqttSettings(
            host=host, port=port, password=base.password, tls=base.tls, ca_file=base.ca_file
        )
        return asyncio.run(go(mqtt, Path(tmp)))


def run_trace_command(args: argparse.Namespace) -> int:
    """Print what a simulated resident does and what was injected."""
    from firmware_sim import plan_incidents, simulate_days, standard_home

    incidents = plan_incidents(args.seed, args.days, rate_per_day=args.incident_rate)
    trace = simulate_days(
        standard_home("h001"), args.profile, args.start, args.days, args.seed, incidents
    )
    counts = Counter(r.event_type or f"{r.channel.value}" for r in trace.records)
    print(f"{len(trace.records)} records over {args.days} day(s) ({args.profile}):")
    for name, count in counts.most_common():
        print(f"  {name:16} {count}")
    print("ground truth:")
    for incident in trace.incidents:
        print(
            f"  {incident.start:%Y-%m-%d %H:%M}Z {incident.kind:24} rule={incident.rule}"
            f" alarm={'yes' if incident.expect_alarm else 'no'}"
        )
    return 0


def run(args: argparse.Namespace, config: Config) -> int:
    """Dispatch to the chosen simulation."""
    if args.sim_command == "fleet":
        return run_fleet_command(args)
    if args.sim_command == "home":
        return run_home_command(args, config)
    return run_trace_command(args)
