"""Fault drill: a model provider that never answers and one that trickles its answer a few
bytes at a time, many chats waiting on each, while other endpoints are measured. A chat
waiting on its model holds no worker thread and no database connection, so the p99 of the
list, one task, a create and a completion stays what it is on an idle server (a generous
bound: a loaded 2-core machine moves p99 more than any regression we look for would hide).
test_chat_llm.py::test_never_answers_is_504_and_others_keep_their_latency covers the median
with 12 hung chats; bench/chat.sh measures it with 50."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from api_helpers import fresh_user
from drill_load import Load, Outcome, ms, percentile, record, summary, timed
from fake_llm import FakeLLM
from helpers import scaled, wait_until

HANGING = 24
TRICKLING = 24
LLM_TIMEOUT_S = 12        # the hung chats end (504) after this: longer than any measurement
TRICKLE_CHUNKS = 48       # 7 characters every TRICKLE_DELAY_S: ~12 s per answer
TRICKLE_DELAY_S = 0.25
REQUESTS = 400            # per measurement, over MEASURE_THREADS connections
MEASURE_THREADS = 2


@pytest.fixture
def fake():
    with FakeLLM(hang_s=scaled(LLM_TIMEOUT_S * 3)) as f:
        f.responder = lambda body: (
            {"hang": True} if "hang" in str(body.get("messages", [{}])[-1].get("content"))
            else {"text": "trickle " * (TRICKLE_CHUNKS * 7 // 8), "delay": TRICKLE_DELAY_S})
        yield f


def measure(users, task_ids) -> list:
    """REQUESTS requests over MEASURE_THREADS threads, round robin over list, one task,
    create, complete; returns the outcomes."""
    def step(i: int, n: int) -> Outcome:
        u = users[i]
        kind = n % 4
        if kind == 0:
            return timed("list", lambda: u.get("/api/me/tasks", params={"limit": 50}))
        if kind == 1:
            tid = task_ids[i][n % len(task_ids[i])]
            return timed("get", lambda: u.get(f"/api/me/tasks/{tid}"))
        if kind == 2:
            return timed("create", lambda: u.post("/api/me/tasks", json={"title": f"m {n}"}))
        tid = task_ids[i][n % len(task_ids[i])]
        return timed("complete", lambda: u.patch(f"/api/me/tasks/{tid}/complete"))

    return Load(step, MEASURE_THREADS, scaled(120),
                max_per_thread=REQUESTS // MEASURE_THREADS).start().finish(scaled(150))


def test_hung_and_trickling_providers_leave_other_endpoints_p99_unchanged(servers, fake):
    srv = servers.start(env={
        "LLM_PROVIDER": "custom", "LLM_BASE_URL": fake.url("/v1"), "LLM_MODEL": "scripted",
        "LLM_API_KEY": "test-key-0123456789", "LLM_TIMEOUT_SECONDS": str(LLM_TIMEOUT_S),
        "CHAT_RATE_LIMIT_PER_MINUTE": "100000"})
    users = [fresh_user(srv, f"slowllm-{i}") for i in range(MEASURE_THREADS)]
    task_ids = [[u.create(title=f"task {k}")["id"] for k in range(30)] for u in users]
    measure(users, task_ids)  # warm up: connections, caches
    base = measure(users, task_ids)

    chats: list = []
    lock = threading.Lock()

    def chat(kind: str, i: int):
        u = fresh_user(srv, f"{kind}-{i}")
        t0 = time.monotonic()
        try:
            if kind == "hang":
                r = u.post("/api/me/chat", json={"message": "hang on"},
                           timeout=scaled(LLM_TIMEOUT_S * 3))
                res = r.status_code
            else:
                with u.post("/api/me/chat", json={"message": "tell me slowly"},
                            headers={"Accept": "text/event-stream"}, stream=True,
                            timeout=scaled(LLM_TIMEOUT_S * 3)) as r:
                    n = sum(len(c) for c in r.iter_content(chunk_size=None))
                    res = r.status_code if n else "empty"
        except requests.RequestException as e:
            res = type(e).__name__
        with lock:
            chats.append((kind, res, time.monotonic() - t0))

    threads = [threading.Thread(target=chat, args=("hang", i), daemon=True) for i in range(HANGING)]
    threads += [threading.Thread(target=chat, args=("trickle", i), daemon=True)
                for i in range(TRICKLING)]
    for t in threads:
        t.start()
    # Every chat is waiting on the provider before the measurement starts.
    assert wait_until(lambda: len(fake.completions()) >= HANGING + TRICKLING, scaled(10),
                      interval=0.05), f"only {len(fake.completions())} chats reached the provider"
    t0 = time.monotonic()
    during = measure(users, task_ids)
    measured_s = time.monotonic() - t0
    with lock:
        ended_early = list(chats)
    for t in threads:
        t.join(scaled(LLM_TIMEOUT_S * 3 + 10))
    assert not any(t.is_alive() for t in threads), "a chat never ended"

    assert not ended_early, f"chats ended before the measurement did ({measured_s:.1f}s): {ended_early[:5]}"
    for o in base + during:
        assert o.ok, f"{o.kind}: {o.status} {o.error} {o.info.get('error_body', '')}"
    hung = [c for c in chats if c[0] == "hang"]
    trickled = [c for c in chats if c[0] == "trickle"]
    assert all(res == 504 for _, res, _ in hung), hung
    assert all(res == 200 for _, res, _ in trickled), trickled

    b, d = summary(base), summary(during)
    p99_base = percentile([o.took for o in base], 99)
    p99_during = percentile([o.took for o in during], 99)
    bound = max(5 * p99_base, scaled(0.5))
    assert p99_during <= bound, (f"p99 {ms(p99_during)} ms with {HANGING} hung and {TRICKLING} "
                                 f"trickling chats, {ms(p99_base)} ms idle (bound {ms(bound)} ms)")
    by_kind = {k: ms(percentile([o.took for o in during if o.kind == k], 99))
               for k in ("list", "get", "create", "complete")}
    record(f"provider hung / trickling ({srv.env['DATABASE_URL'].split(':')[0]})",
           hung_chats=HANGING, trickling_chats=TRICKLING, idle=b, during=d,
           during_p99_by_kind_ms=by_kind, hung_status=504,
           hung_took_s=round(max(c[2] for c in hung), 1),
           trickle_took_s=round(max(c[2] for c in trickled), 1))
