"""The chaos loop: live activity plus random kills, broker restarts, DB cuts, receiver faults."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ops.chaos.processes import cpu_seconds, rss_kib
from ops.chaos.stack import Stack

SIM_FAULTS = {"error_rate": 0.05, "burst_429": 3, "burst_429_every": 50, "retry_after_s": 1,
              "latency_ms": 20}  # fmt: skip
NO_SIM_FAULTS = {"error_rate": 0.0, "burst_429": 0, "latency_ms": 0, "malformed_rate": 0.0}
DB_CUT_SECONDS = 30.0
WARM_UP_S = 15.0  # RSS of a process younger than this is start-up noise, not a trend


@dataclass
class SoakSettings:
    """How hard and how long."""

    duration_s: float = 300.0
    seed: int = 1
    changes_per_s: float = 3.0
    fault_gap_s: tuple[float, float] = (6.0, 14.0)
    sample_every_s: float = 5.0


@dataclass
class RssSeries:
    """RSS samples (KiB) of one service, with the time they were taken (s since start)."""

    samples: list[tuple[float, int]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """First vs last third (mean MiB) and the growth between them."""
        values = [kib for _, kib in self.samples]
        if len(values) < 3:
            return {"samples": len(values)}
        third = max(len(values) // 3, 1)
        first = sum(values[:third]) / third / 1024
        last = sum(values[-third:]) / third / 1024
        return {"samples": len(values), "min_mib": round(min(values) / 1024, 1),
                "max_mib": round(max(values) / 1024, 1), "first_third_mib": round(first, 1),
                "last_third_mib": round(last, 1),
                "growth_pct": round((last - first) / first * 100, 1)}  # fmt: skip


class Sampler:
    """Samples the RSS of every running service of a stack."""

    def __init__(self, stack: Stack, warm_up_s: float = WARM_UP_S) -> None:
        self.stack = stack
        self.warm_up_s = warm_up_s
        self.began = time.monotonic()
        self.series: dict[str, RssSeries] = {}
        self._cpu: dict[str, dict[int, float]] = {}  # service -> pid -> CPU seconds last seen

    def sample(self) -> None:
        """Take one sample of each live process."""
        at = round(time.monotonic() - self.began, 1)
        now = time.monotonic()
        pids = {
            name: c.pid
            for name, c in self.stack.components.items()
            if c.alive() and now - c.started_at >= self.warm_up_s
        }
        pids["kafka_broker"] = self.stack.broker_pid()
        for name, pid in pids.items():
            kib = rss_kib(pid) if pid is not None else None
            if kib is not None:
                self.series.setdefault(name, RssSeries()).samples.append((at, kib))
            cpu = cpu_seconds(pid) if pid is not None else None
            if pid is not None and cpu is not None:
                self._cpu.setdefault(name, {})[pid] = cpu

    def report(self, raw: bool = False) -> dict[str, Any]:
        """Per-service summary (and the raw samples when `raw`)."""
        out: dict[str, Any] = {name: s.summary() for name, s in sorted(self.series.items())}
        for name, by_pid in self._cpu.items():
            if name in out:  # CPU seconds of every incarnation, as of its last sample
                out[name]["cpu_s"] = round(sum(by_pid.values()), 1)
        if raw:
            for name, s in self.series.items():
                out[name]["series_s_kib"] = s.samples
        return out


class ChaosMonkey:
    """Runs activity and random faults against a started stack for `settings.duration_s`."""

    def __init__(self, stack: Stack, settings: SoakSettings) -> None:
        self.stack = stack
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.faults: Counter[str] = Counter()
        self.changes = 0
        self.last_change_s = time.time()
        self._due: list[tuple[float, str, Any]] = []  # (monotonic time, what, argument)
        self._broker_thread: threading.Thread | None = None
        self.sampler = Sampler(stack)
        self.timeline: list[tuple[float, str]] = []
        self._bag: list[str] = []

    def _kinds(self) -> list[str]:
        kinds = [f"kill_{name}" for name in self.stack.components if name != "simulator"]
        if self.stack.broker is not None:
            kinds.append("broker_restart")
        kinds += [f"db_cut_{kind}" for kind, db in self.stack.databases.items() if db.proxy]
        if self.stack.receiver is not None:
            kinds += ["receiver_fail", "receiver_hang"]
        return kinds

    def _inject(self, now: float) -> None:
        # A shuffled bag: every kind once per round, in random order, so even a short run
        # exercises each of them.
        if not self._bag:
            self._bag = self._kinds()
            self.rng.shuffle(self._bag)
        kind = self._bag.pop()
        if kind.startswith("kill_"):
            name = kind.removeprefix("kill_")
            component = self.stack.components[name]
            if not component.alive():
                return
            component.kill()
            self._due.append((now + self.rng.uniform(0.5, 4.0), "start", name))
        elif kind == "broker_restart":
            if self._broker_thread is not None and self._broker_thread.is_alive():
                return
            hard = self.rng.random() < 0.5
            kind = "broker_kill_restart" if hard else "broker_restart"
            self._broker_thread = threading.Thread(
                target=self._restart_broker, args=(hard,), daemon=True
            )
            self._broker_thread.start()
        elif kind.startswith("db_cut_"):
            proxy = self.stack.databases[kind.removeprefix("db_cut_")].proxy
            if proxy is None or proxy.is_cut:
                return
            proxy.cut()
            self._due.append((now + DB_CUT_SECONDS, "heal", proxy))
        else:
            receiver = self.stack.receiver
            assert receiver is not None
            hang = self.stack.options.relay_timeout_s + 2.0
            receiver.set_mode("fail" if kind == "receiver_fail" else "hang", hang_seconds=hang)
            self._due.append((now + self.rng.uniform(8.0, 20.0), "receiver_ok", receiver))
        self.faults[kind] += 1
        self.timeline.append((round(now - self.sampler.began, 1), kind))
        print(f"chaos: t={now - self.sampler.began:6.1f}s {kind}", flush=True)

    def _restart_broker(self, hard: bool) -> None:
        for attempt in range(3):
            try:
                self.stack.restart_broker(hard and attempt == 0)
                return
            except Exception as exc:
                self.faults["broker_restart_error"] += 1
                print(f"chaos: broker restart failed ({exc}); retrying", flush=True)

    def _run_due(self, now: float, everything: bool = False) -> None:
        keep = []
        for item in self._due:
            at, what, arg = item
            if at > now and not everything:
                keep.append(item)
                continue
            try:
                if what == "start":
                    self.stack.components[arg].start()
                elif what == "heal":
                    arg.heal()
                else:
                    arg.set_mode("ok")
            except Exception as exc:  # a failed restoration is retried, never left undone
                self.faults[f"{what}_error"] += 1
                print(f"chaos: {what} failed ({exc}); retrying in 1 s", flush=True)
                keep.append((now + 1.0, what, arg))
        self._due = keep

    def _supervise(self) -> None:
        for name, component in self.stack.components.items():
            code = component.check_exit()
            if code is not None:
                print(f"chaos: {name} exited by itself with {code}; restarting\n"
                      f"{component.log_tail(8)}", flush=True)  # fmt: skip
                self.faults[f"unexpected_exit_{name}"] += 1
                component.start()

    def _activity(self, owed: float) -> float:
        count = int(owed)
        if count > 0:
            self.stack.sim_post(f"/_sim/activity?n={count}")
            self.changes += count
            self.last_change_s = time.time()
        return owed - count

    def run(self) -> float:
        """Run for the configured duration; return the seconds actually run."""
        self.stack.sim_post("/_sim/faults", SIM_FAULTS)
        began = time.monotonic()
        end = began + self.settings.duration_s
        next_fault = began + self.rng.uniform(*self.settings.fault_gap_s)
        next_sample = began
        owed = 0.0
        last = began
        while (now := time.monotonic()) < end:
            owed = self._activity(owed + (now - last) * self.settings.changes_per_s)
            last = now
            self._run_due(now)
            self._supervise()
            if now >= next_fault:
                self._inject(now)
                next_fault = now + self.rng.uniform(*self.settings.fault_gap_s)
            if now >= next_sample:
                self.sampler.sample()
                next_sample = now + self.settings.sample_every_s
            time.sleep(0.25)
        return time.monotonic() - began

    def calm_down(self) -> None:
        """Stop faults: simulator clean, restorations done (cuts served in full), all running."""
        self.stack.sim_post("/_sim/faults", NO_SIM_FAULTS)
        while self._due:
            self._run_due(time.monotonic())
            self._supervise()
            time.sleep(0.25)
        if self._broker_thread is not None:
            self._broker_thread.join(timeout=180)
        self._supervise()
        for component in self.stack.components.values():
            component.start()
