#!/usr/bin/env python3
"""Run the interop matrix and render it as Markdown (``docs/interop.md``).

    python interop/render_matrix.py                   # both codec paths, writes docs/interop.md
    python interop/render_matrix.py --codec current   # only the path this interpreter loads
    python interop/render_matrix.py --from-json a.json b.json   # render saved runs, no pytest

Start the peers first (``.ci/peers/start`` and ``. .peers/env``; see interop/README.md). Each
codec path runs in its own ``python -m pytest tests/interop`` child (``AMQP10_PURE=1`` for the
pure one), with a small plugin that records every cell's outcome by its ``matrix(row, column,
adapter)`` marker into a JSON file; the table is then rendered from the JSON files: a cell is a
pass only if every adapter passed on every codec path run, a skip carries its reason, a failure
its first line. Rows, columns, skip reasons, bulk counts and peer quirks come from
``tests/support/interop_matrix.py``, the one table the tests are generated from.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # for support.interop_matrix, as pytest's pythonpath does

PASS, FAIL, SKIP = "passed", "failed", "skipped"
SYMBOL = {PASS: "✅", FAIL: "❌", SKIP: "➖"}


class Recorder:
    """A pytest plugin: every matrix cell's outcome, reason and duration, written as JSON."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cells: dict[str, dict[str, Any]] = {}  # nodeid -> cell
        self.started = time.monotonic()

    def pytest_collection_finish(self, session: Any) -> None:
        for item in session.items:  # what will run (after -k / deselection)
            marker = item.get_closest_marker("matrix")
            if marker is not None:
                self.cells[item.nodeid] = dict(marker.kwargs, outcome=None, reason="", duration=0.0)

    def pytest_runtest_logreport(self, report: Any) -> None:
        cell = self.cells.get(report.nodeid)
        if cell is None:
            return
        cell["duration"] += report.duration
        if report.skipped:
            cell["outcome"] = SKIP
            longrepr = report.longrepr
            reason = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)
            cell["reason"] = reason.removeprefix("Skipped: ")
        elif report.failed:
            cell["outcome"] = FAIL
            text = getattr(report, "longreprtext", "") or str(report.longrepr)
            errors = [line for line in text.splitlines() if line.startswith("E ")]
            cell["reason"] = (errors[0][1:].strip() if errors else text.strip().splitlines()[-1])[:300]
        elif report.when == "call" and cell["outcome"] is None:
            cell["outcome"] = PASS

    def pytest_sessionfinish(self, session: Any) -> None:
        import amqp10.codec

        data = {
            "impl": amqp10.codec.IMPL,
            "seconds": round(time.monotonic() - self.started, 1),
            "cells": list(self.cells.values()),
            "versions": _versions(),
        }
        self.path.write_text(json.dumps(data, indent=1))


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    try:
        import proton

        found["python-qpid-proton"] = ".".join(map(str, proton.VERSION))
    except ImportError:
        pass
    rhea = REPO / "interop" / "rhea" / "node_modules" / "rhea" / "package.json"
    if rhea.is_file():
        found["rhea"] = json.loads(rhea.read_text())["version"]
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10)
        found["node"] = node.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        rabbit = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "rabbitmq-server"],
                                capture_output=True, text=True, timeout=10)
        if rabbit.returncode == 0:
            found["rabbitmq-server (Debian)"] = rabbit.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    opt = REPO / ".peers" / "opt"  # the prebuilt qpidd and Qpid Dispatch (.ci/peers/install)
    for name, command in (("qpidd", [str(opt / "qpidd" / "bin" / "qpidd"), "--version"]),
                          ("Qpid Dispatch", [str(opt / "qpid-dispatch" / "sbin" / "qdrouterd"), "--version"])):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=10,
                                  env=dict(os.environ, LD_LIBRARY_PATH=str(opt / "qpidd" / "lib")))
            if done.returncode == 0 and done.stdout.strip():
                found[name] = done.stdout.strip().split()[-1]
        except (OSError, subprocess.TimeoutExpired):
            pass
    return found


def collect(out: Path, pytest_args: list[str]) -> int:
    """Run the interop tests in this process and write the cells to ``out``."""
    import pytest

    os.chdir(REPO)
    return int(pytest.main(["tests/interop", "-q", *pytest_args], plugins=[Recorder(out)]))


def run_path(pure: bool, out: Path, pytest_args: list[str]) -> dict[str, Any]:
    """One codec path in a child process; its recorded cells."""
    env = dict(os.environ)
    env.pop("AMQP10_PURE", None)
    if pure:
        env["AMQP10_PURE"] = "1"
    command = [sys.executable, str(Path(__file__).resolve()), "--collect", str(out), "--", *pytest_args]
    print(f"running the interop matrix ({'pure' if pure else 'default'} codec path) ...", file=sys.stderr, flush=True)
    subprocess.run(command, cwd=REPO, env=env, check=False)
    if not out.is_file():
        raise SystemExit(f"the pytest run wrote no results to {out}")
    return json.loads(out.read_text())  # type: ignore[no-any-return]


# -- rendering --------------------------------------------------------------------------------------

def _cell_outcomes(runs: list[dict[str, Any]]) -> dict[tuple[str, str, str], list[tuple[str, dict[str, Any]]]]:
    table: dict[tuple[str, str, str], list[tuple[str, dict[str, Any]]]] = {}
    for run in runs:
        for cell in run["cells"]:
            key = (cell["row"], cell["column"], cell["adapter"])
            table.setdefault(key, []).append((run["impl"], cell))
    return table


def render(runs: list[dict[str, Any]]) -> str:
    from support.interop_matrix import BULK_COUNTS, COLUMNS, QUIRKS, ROWS, SKIPS, Side

    outcomes = _cell_outcomes(runs)
    adapters = ("blocking", "trio", "asyncio")
    notes: dict[str, int] = {}
    failures: list[str] = []

    def note(reason: str) -> str:
        if reason not in notes:
            notes[reason] = len(notes) + 1
        return f"[{notes[reason]}](#note-{notes[reason]})"

    def cell_text(row_id: str, column_id: str) -> str:
        parts = []
        skip_reason = None
        for adapter in adapters:
            results = outcomes.get((row_id, column_id, adapter), [])
            if not results:
                parts.append("·")  # not part of the runs rendered (e.g. deselected with -k)
                continue
            states = {cell["outcome"] for _, cell in results}
            if FAIL in states or None in states:
                parts.append(SYMBOL[FAIL])
                for impl, cell in results:
                    if cell["outcome"] != PASS:
                        failures.append(f"`{row_id}` × `{column_id}` ({adapter}, {impl}): {cell['reason'] or 'did not run'}")
            elif states == {SKIP}:
                parts.append(SYMBOL[SKIP])
                skip_reason = results[0][1]["reason"]
            else:
                parts.append(SYMBOL[PASS])
        text = " ".join(parts)
        if skip_reason is not None:
            documented = SKIPS.get((row_id, column_id))
            text += " " + note(documented if documented is not None else skip_reason)
        return text

    impls = ", ".join(f"`{run['impl']}` ({run['seconds']:.0f} s)" for run in runs)
    versions = runs[0].get("versions", {}) if runs else {}
    lines = [
        "# Interoperability",
        "",
        "<!-- Generated by interop/render_matrix.py from a test run; do not edit by hand. -->",
        "",
        "amqp10 is tested against independently written AMQP 1.0 implementations over real sockets",
        "on 127.0.0.1, in both roles, by `tests/interop/test_matrix_client.py` (amqp10's client",
        "against the peer) and `tests/interop/test_matrix_server.py` (the peer's client against",
        "amqp10's listener). Every cell is a test, run with each adapter and on both codec paths;",
        "CI (`.ci/run`) runs them all with `AMQP10_REQUIRE_PEERS=1`, so a missing peer fails.",
        "How to run the peers yourself: [interop/README.md](../interop/README.md).",
        "",
        f"Rendered {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC from runs on the "
        f"codec path(s) {impls}; " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        "Each cell shows the **blocking**, the **trio** then the **asyncio** adapter: "
        f"{SYMBOL[PASS]} passed (on every codec path run), {SYMBOL[FAIL]} failed, "
        f"{SYMBOL[SKIP]} the peer cannot do it (the note says why), · not run.",
        "",
    ]
    header = "| scenario | " + " | ".join(
        f"{c.title} {'(amqp10 client)' if c.side is Side.CLIENT else '(amqp10 listener)'}" for c in COLUMNS) + " |"
    lines += [header, "|" + "---|" * (len(COLUMNS) + 1)]
    for row in ROWS:
        lines.append(f"| {row.title} | " + " | ".join(cell_text(row.id, c.id) for c in COLUMNS) + " |")
    lines += ["", "## Notes", ""]
    for reason, number in notes.items():
        lines.append(f'<a id="note-{number}"></a>{number}. {reason}')
        lines.append("")
    if failures:
        lines += ["## Failures in this run", ""] + [f"- {f}" for f in failures] + [""]
    lines += ["## What each row proves", "", "| scenario | a pass shows that |", "|---|---|"]
    lines += [f"| {row.title} | {row.proves} |" for row in ROWS]
    lines += ["", "## The columns", "", "| column | amqp10 plays | peer | bulk row messages |", "|---|---|---|---|"]
    lines += [f"| {c.title} | {c.side.value} | {c.peer} | {BULK_COUNTS[c.id]:,} |" for c in COLUMNS]
    lines += [
        "",
        "The bulk row's counts are set per column in `tests/support/interop_matrix.py` (why, with",
        "the timings, is written there); `AMQP10_INTEROP_BULK=100000` runs every cell at the full",
        "count.",
        "",
        "## Peer quirks, and what amqp10 does about them",
        "",
        "| peer | what it does | with amqp10 |",
        "|---|---|---|",
    ]
    lines += [f"| {peer} | {what} | {ours} |" for peer, what, ours in QUIRKS]
    lines += [
        "",
        "## Through a router network",
        "",
        "CI also runs three Qpid Dispatch routers (interior A and B joined by an inter-router",
        "connection, an edge router attached to A) with qpidd behind B as a route container; the",
        "`Qpid Dispatch network` column above is amqp10 on the edge router, its queues link-routed",
        "to qpidd over all three routers. `tests/interop/test_router_network.py` runs the same",
        "messaging patterns peer to peer (amqp10's embedded peer), via a broker (qpidd) and across",
        "the network, on both adapters: an RPC call from router A to a service on router B (the",
        "reply over a dynamic address), a cast, a fan-out to subscribers on both routers",
        "(`multicast/`), notifications to pub/sub subscribers through the link-routed broker",
        "(`broker/topic/...`), and competing consumers of one `anycast/` address on both routers;",
        "and amqp10's own listener (`amqp10.listen`, `amqp10.trio.serve`, `amqp10 serve`) behind a",
        "router as a route container.",
        "",
        "What users of a router meet (each proved by a test there):",
        "",
        "- **It stores nothing.** A sender to a routed address gets credit only once a receiver is",
        "  attached somewhere in the network, so attach receivers first. Receivers on another",
        "  router become known after the routing protocol has run (about 0.5 s on loopback): a",
        "  multicast sent before then does not reach them.",
        "- **An at-least-once sender's outcome is the consumer's.** It arrives when the consumer",
        "  settles (a consumer's rejection reaches the sender as `Rejected`), so never wait for a",
        "  send's outcome in the thread or task that would receive it. `request()` returns the",
        "  reply without waiting for the request's outcome, because a service may settle a request",
        "  only once its reply has been accepted.",
        "- **Pre-settled messages are dropped** when the receiver has no credit for them (a few",
        "  are buffered; 8 of 500 arrived here). Use at-least-once where loss matters.",
        "- **Balanced distribution follows unsettled deliveries, not credit**: the next message goes",
        "  to the consumer with the fewest unsettled deliveries (nearest first), and waits at a",
        "  consumer without credit. To spread work, hold deliveries until done.",
        "",
        "More observations, and the container peers (qpidd, Qpid Dispatch, ActiveMQ Artemis and",
        "Classic) with their configurations: [interop/README.md](../interop/README.md).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "interop.md"), help="Markdown file to write")
    parser.add_argument("--codec", choices=("both", "current"), default="both",
                        help="run both codec paths (default) or only the one this interpreter loads")
    parser.add_argument("--from-json", nargs="+", metavar="FILE", help="render these saved runs instead of running")
    parser.add_argument("--save-json", metavar="DIR", help="keep each run's JSON in this folder")
    parser.add_argument("--collect", metavar="FILE", help=argparse.SUPPRESS)  # internal: one run, in-process
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    if args.collect:
        return collect(Path(args.collect), args.pytest_args)
    if args.from_json:
        runs = [json.loads(Path(f).read_text()) for f in args.from_json]
    else:
        folder = Path(args.save_json) if args.save_json else Path(tempfile.mkdtemp(prefix="amqp10-matrix-"))
        folder.mkdir(parents=True, exist_ok=True)
        if args.codec == "current":
            paths = [os.environ.get("AMQP10_PURE") == "1"]
        else:
            paths = [False, True]
        runs = [run_path(pure, folder / f"matrix-{'pure' if pure else 'default'}.json", args.pytest_args) for pure in paths]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(runs))
    failed = sum(1 for run in runs for cell in run["cells"] if cell["outcome"] != PASS and cell["outcome"] != SKIP)
    print(f"wrote {out}: {failed} failed cell run(s)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
