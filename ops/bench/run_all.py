"""Run every benchmark harness in ops/bench/ and regenerate the summary table of docs/benchmarks.md.

    python -m ops.bench.run_all                 # every harness, about an hour on 2 cores
    python -m ops.bench.run_all --only sql --merge   # refresh one harness, keep the others
    python -m ops.bench.run_all --from-json docs/benchmarks.json   # re-render only

Each harness runs as a subprocess (its own JSON on stdout); the raw results go to `--out`
(`docs/benchmarks.json`, each with the time it was measured), and the table between
`<!-- summary:start -->` and `<!-- summary:end -->` is rewritten from them.
Needs the dev services: Kafka at $KAFKA_BOOTSTRAP_SERVERS (the latency and memory benches
start a private broker), $DBSYNC_TEST_POSTGRES_URL and $DBSYNC_TEST_MARIADB_URL.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ops.chaos.measure import machine

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "benchmarks.md"
# The raw results behind the table are kept next to it, so the table can be re-rendered and
# `--merge` can refresh one harness without re-running the others.
RAW_RESULTS = REPO / "docs" / "benchmarks.json"
START, END = "<!-- summary:start -->", "<!-- summary:end -->"
# name -> (module, modest arguments, timeout seconds)
HARNESSES: dict[str, tuple[str, tuple[str, ...], float]] = {
    "producer": ("ops.bench.producer_bench",
                 ("--contacts", "5000", "--inbound-calls", "500", "--latency-ms", "50",
                  "--in-flight", "1,8"), 600),
    "sql": ("ops.bench.sql_bench", ("--events", "1000000", "--per-row-sample", "2000",
                                    "--instances", "2", "--repeat", "3"), 3600),
    "webhook": ("ops.bench.webhook_bench", (), 600),
    "latency": ("ops.bench.latency_bench", ("--seconds", "90", "--rate", "2", "--interval", "5s"),
                600),
    "memory": ("ops.bench.memory_bench", ("--backlog-contacts", "232000", "--steady-seconds",
                                          "120", "--drain-timeout", "3600"), 4200),
}  # fmt: skip


def command(name: str) -> str:
    """The exact command line of one harness."""
    module, args, _ = HARNESSES[name]
    return " ".join([".venv/bin/python -m", module, *args])


def run_harness(name: str) -> dict[str, Any]:
    """Run one harness; return its JSON (or an `error`)."""
    module, args, timeout = HARNESSES[name]
    began = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, timeout=timeout,
                              capture_output=True, text=True, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    out = done.stdout
    start = next((i for i, line in enumerate(out.splitlines()) if line.startswith("{")), None)
    if done.returncode != 0 or start is None:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-600:]}"}
    text = "\n".join(out.splitlines()[start:])
    result, _ = json.JSONDecoder().raw_decode(text)
    result["_seconds"] = round(time.monotonic() - began, 1)
    return dict(result)


def _get(data: Any, *path: Any) -> Any:
    for key in path:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def _n(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and value < 100:
        return f"{value:,.1f}{unit}"
    return f"{round(value):,}{unit}"


def rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(figure, result, baseline from the same run, harness) rows of the summary table."""
    out: list[tuple[str, str, str, str]] = []
    p = results.get("producer", {})
    if p and "error" not in p:
        runs = {r["fetch_in_flight"]: r for r in p.get("runs", [])}
        best = runs.get(max(runs)) if runs else None
        out.append((f"Producer initial load, {_get(p, 'campaign', 'contacts'):,} contacts, "
                    f"API +{_get(p, 'campaign', 'simulator_latency_ms')} ms",
                    f"{_n(_get(best, 'events_per_second'))} events/s ({max(runs)} in flight)",
                    f"{_n(_get(runs.get(1), 'events_per_second'))} events/s sequential "
                    "(the original's way)", "producer"))  # fmt: skip
    s = results.get("sql", {})
    for kind, label in (("postgresql", "PostgreSQL"), ("mariadb", "MariaDB")):
        part = s.get(kind)
        if not part:
            continue
        base = f"{_n(_get(part, 'per_row_upsert', 'rows_per_s'))} rows/s per-row upsert"
        if "copy" in part:
            base += f"; COPY {_n(_get(part, 'copy', 'rows_per_s'))} rows/s"
        result = (f"{_n(_get(part, 'materializer', 'rows_per_s'))} rows/s, 1 instance "
                  f"(×{_get(part, 'x_per_row')} per-row")  # fmt: skip
        if "copy" in part:
            result += f", {_get(part, 'fraction_of_copy')} of COPY"
        result += f"; peak RSS {_n(_get(part, 'materializer', 'peak_rss_mib_per_instance'))} MiB)"
        for key in sorted(k for k in part if k.startswith("materializer_x")):
            n = key.removeprefix("materializer")
            result += (f"; {_n(_get(part, key, 'rows_per_s'))} rows/s, {n[2:]} instances "
                       f"(×{_get(part, 'x_per_row' + n)} per-row")  # fmt: skip
            if "copy" in part:
                result += f", {_get(part, 'fraction_of_copy' + n)} of COPY"
            result += ")"
        out.append((f"SQL materializer → {label}, {s.get('events', 0):,} events, "
                    f"{s.get('contact_columns')} columns", result, base, "sql"))  # fmt: skip
    w = results.get("webhook", {})
    if w and "error" not in w:
        out.append((f"Webhook relay, receiver +{_n(w.get('receiver_latency_ms'))} ms",
                    f"{_n(_get(w, 'concurrent', 'deliveries_per_s'))} deliveries/s "
                    f"(w={_get(w, 'concurrent', 'w')}, ×{w.get('speedup')})",
                    f"{_n(_get(w, 'sequential', 'deliveries_per_s'))} deliveries/s sequential",
                    "webhook"))  # fmt: skip
        out.append(("Webhook produce → POST at half the max rate",
                    f"p50 {_n(_get(w, 'sustained_half_max', 'latency_ms', 'p50'), ' ms')}, "
                    f"p99 {_n(_get(w, 'sustained_half_max', 'latency_ms', 'p99'), ' ms')}",
                    "—", "webhook"))  # fmt: skip
    lat = results.get("latency", {})
    if lat and "error" not in lat:
        floor = lat.get("change_to_topic_ms", {})
        base = (
            f"change → topic p50 {_n(floor.get('p50'), ' ms')}, p99 "
            f"{_n(floor.get('p99'), ' ms')} (the {lat.get('interval')} poll floor)"
        )
        for key, label in (("change_to_postgres_ms", "row in PostgreSQL"),
                           ("change_to_webhook_ms", "POST at the receiver")):  # fmt: skip
            got = lat.get(key, {})
            out.append((f"End-to-end: change in Dialfire → {label}, poll {lat.get('interval')}, "
                        f"{lat.get('rate_per_s')} changes/s",
                        f"p50 {_n(got.get('p50'), ' ms')}, p99 {_n(got.get('p99'), ' ms')} "
                        f"(n={got.get('n')})", base, "latency"))  # fmt: skip
    m = results.get("memory", {})
    if m and "error" not in m:
        for name, part in sorted((m.get("rss_drain") or {}).items()):
            if name in ("kafka_broker", "simulator"):
                continue  # not dbsync2 services (still in the raw JSON)
            steady = _get(m, "rss_steady", name) or {}
            out.append((f"RSS {name}: draining a {m.get('backlog_events', 0):,}-event backlog "
                        f"(all groups drained in {_n(m.get('drain_s'))} s), then "
                        f"{_n(m.get('steady_seconds'))} s steady",
                        f"peak {_n(part.get('max_mib'), ' MiB')}; steady last third "
                        f"{_n(steady.get('last_third_mib'), ' MiB')}",
                        f"steady first third {_n(steady.get('first_third_mib'), ' MiB')} "
                        f"(growth {steady.get('growth_pct')} %)", "memory"))  # fmt: skip
    for name, outcome in results.items():
        if "error" in outcome:
            out.append((f"{name} harness", "not measured", outcome["error"][:160], name))
    return out


def render(results: dict[str, dict[str, Any]], when: str) -> str:
    """The summary section (between the markers)."""
    box = machine()
    lines = [START, "## Summary", "",
             f"Generated {when} by `.venv/bin/python -m ops.bench.run_all` (do not edit by hand; "
             "run it again to regenerate). Machine: "
             f"{box['cores']} cores ({box['cpu']}), {box['memory_gib']} GiB RAM, {box['os']}, "
             f"Python {box['python']}; simulator, broker, databases and services on the same "
             "machine. Every baseline comes from the same run as its figure.", "",
             "| Figure | Result | Baseline (same run) | Command | Measured |",
             "|---|---|---|---|---|"]  # fmt: skip
    for figure, result, baseline, harness in rows(results):
        used = results.get(harness, {}).get("command")
        shown = f".venv/bin/{used}" if isinstance(used, str) and used else command(harness)
        when_run = results.get(harness, {}).get("_measured_at", when)
        lines.append(f"| {figure} | {result} | {baseline} | `{shown}` | {when_run} |")
    lines += ["", END]
    return "\n".join(lines)


def write_summary(section: str, doc: Path = DOC) -> None:
    """Replace the marked section of docs/benchmarks.md (insert it after the title if absent)."""
    text = doc.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        title, _, body = text.partition("\n")
        text = f"{title}\n\n{section}\n{body}"
    doc.write_text(text)


def main(argv: list[str] | None = None) -> int:
    """Run the harnesses, save raw JSON, regenerate the table."""
    parser = argparse.ArgumentParser(prog="python -m ops.bench.run_all", description=__doc__)
    parser.add_argument("--only", default=",".join(HARNESSES), help="comma-separated harnesses")
    parser.add_argument("--out", type=Path, default=RAW_RESULTS)
    parser.add_argument("--from-json", type=Path, help="skip running; render these results")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument(
        "--merge", action="store_true", help="keep the other harnesses' results from --out"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        results = json.loads(args.from_json.read_text())
    else:
        results = {}
        if args.merge and args.out.exists():
            results = json.loads(args.out.read_text())
        for name in [n for n in args.only.split(",") if n]:
            print(f"run_all: {command(name)}", file=sys.stderr, flush=True)
            results[name] = run_harness(name)
            results[name].setdefault("command", command(name).removeprefix(".venv/bin/"))
            results[name]["_measured_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            args.out.write_text(json.dumps(results, indent=2))
    section = render(results, datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    if not args.no_write:
        write_summary(section)
    print(section)
    print(f"run_all: raw results in {args.out}", file=sys.stderr)
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
