"""Shared pieces of the fault drills (tests/blackbox/drills): a load generator that never
retries, percentiles, and the figures each drill records.

The load generator runs a fixed number of threads, each sending one request at a time
until told to stop or until its own request budget is spent (bounded in time and count).
Every request is recorded with what it was, how it ended (a status, or the exception's
name) and how long it took. Nothing is retried: a request that fails is counted failed,
so "zero failed" means zero."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import requests

REPO_ROOT = Path(__file__).resolve().parents[3]
FIGURES = Path(os.environ.get("TODO_DRILL_FIGURES") or REPO_ROOT / "build" / "drill-figures.jsonl")


@dataclass
class Outcome:
    kind: str            # what the request was ("create", "complete", "chat", "list", ...)
    status: Optional[int]  # the HTTP status, or None when no answer came
    error: str           # the exception's name when no answer came, else ""
    started: float       # time.monotonic() at the start
    took: float          # seconds
    info: dict = field(default_factory=dict)  # what the verification needs (ids, titles)
    body: object = None  # the parsed JSON answer of a 2xx, when the step keeps it

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Load:
    """`threads` threads each call step(thread_index, n) → Outcome until stop() or until
    max_per_thread steps or `seconds` have passed. step must not retry."""

    def __init__(self, step: Callable[[int, int], Outcome], threads: int, seconds: float,
                 max_per_thread: int = 100_000, pause: float = 0.0):
        self.step = step
        self.n_threads = threads
        self.seconds = seconds
        self.max_per_thread = max_per_thread
        self.pause = pause
        self.outcomes: list = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(threads)]

    def _run(self, i: int) -> None:
        deadline = time.monotonic() + self.seconds
        for n in range(self.max_per_thread):
            if self.stopping.is_set() or time.monotonic() >= deadline:
                return
            out = self.step(i, n)
            with self.lock:
                self.outcomes.append(out)
            if self.pause:
                self.stopping.wait(self.pause)

    def start(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def stop(self, join_timeout: float = 60) -> list:
        self.stopping.set()
        end = time.monotonic() + join_timeout
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), "a load thread never ended"
        with self.lock:
            return list(self.outcomes)

    def finish(self, timeout: float) -> list:
        """Waits (bounded) for every thread to spend its budget; returns the outcomes."""
        end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))
        return self.stop(join_timeout=10)

    def count(self, pred: Callable[[Outcome], bool] = lambda o: o.ok) -> int:
        with self.lock:
            return sum(1 for o in self.outcomes if pred(o))

    def snapshot(self) -> list:
        with self.lock:
            return list(self.outcomes)


def timed(kind: str, fn: Callable[[], requests.Response], info: Optional[dict] = None,
          keep_body: bool = False) -> Outcome:
    """Runs one request (no retry) and records how it ended."""
    t0 = time.monotonic()
    try:
        r = fn()
    except requests.RequestException as e:
        return Outcome(kind, None, type(e).__name__, t0, time.monotonic() - t0, info or {})
    took = time.monotonic() - t0
    body = None
    if r.status_code >= 400:
        info = dict(info or {})
        info["content_type"] = r.headers.get("Content-Type", "")
        info["error_body"] = r.text[:300]
    if keep_body and 200 <= r.status_code < 300:
        try:
            body = r.json()
        except ValueError:
            body = None
    return Outcome(kind, r.status_code, "", t0, took, info or {}, body)


def percentile(values: list, p: float) -> float:
    """The p-th percentile (nearest rank) of values, in the values' unit; 0 for none."""
    if not values:
        return 0.0
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def summary(outcomes: list) -> dict:
    """requests sent, 2xx, failed (no answer or a status ≥ 500), other (4xx), p50/p99 in ms."""
    took = [o.took for o in outcomes]
    return {
        "sent": len(outcomes),
        "2xx": sum(1 for o in outcomes if o.ok),
        "failed": sum(1 for o in outcomes if o.status is None or o.status >= 500),
        "4xx": sum(1 for o in outcomes if o.status is not None and 400 <= o.status < 500),
        "p50_ms": ms(percentile(took, 50)),
        "p99_ms": ms(percentile(took, 99)),
    }


def record(drill: str, **figures) -> None:
    """Prints the drill's figures and appends them to build/drill-figures.jsonl (the source of
    the table in docs/robustness.md)."""
    line = {"drill": drill, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}
    print(f"\nDRILL {json.dumps(line)}")
    try:
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        with open(FIGURES, "a") as f:
            f.write(json.dumps(line) + "\n")
    except OSError:
        pass
