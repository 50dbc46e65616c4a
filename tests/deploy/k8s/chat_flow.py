#!/usr/bin/env python3
"""The assistant's round trip against a deployed todo (make k8s-test), standard library only.

usage: chat_flow.py BASE_URL --state STATE.json [--api API_URL]

STATE.json is api_flow.py's (a signed-up user's token). Against BASE_URL (the NodePort, or a
port-forward to the ai-agent Service): POST /api/me/chat as JSON ("add … tomorrow": the
offline assistant's add_task, the task readable through the REST API when BASE_URL serves it),
the same conversation's next turn streamed (start, tool_call, tool_result, delta, done in that
order), the conversation listed with its messages, another user's view of it a 404 (the token
decides, never the path or the model), then deleted. Prints one line; exit 0 only when every
step held. --api: where the second user signs up (the agent role serves only the chat and
its conversations); BASE_URL by default."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request

TIMEOUT = 20


def http(method, url, body=None, headers=None, raw=False):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            text = r.read()
            return r.status, dict(r.headers), (text.decode() if raw else json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, dict(e.headers), json.loads(text) if text else None
        except ValueError:
            return e.code, dict(e.headers), text


def sse_events(text):
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if data:
            out.append((event, json.loads("\n".join(data))))
    return out


def main(argv):
    base = argv[1].rstrip("/")
    state = json.load(open(argv[argv.index("--state") + 1]))
    api = argv[argv.index("--api") + 1].rstrip("/") if "--api" in argv else base
    auth = {"Authorization": f"Bearer {state['token']}"}
    title = f"k8s chat {int(time.time() * 1000) % 1000000}"
    code, _h, body = http("POST", f"{base}/api/me/chat", {"message": f"add {title} tomorrow"}, auth)
    if code != 200:
        return f"POST chat answered {code}: {body}"
    calls = body.get("tool_calls") or []
    if not calls or calls[0]["tool"] != "add_task" or calls[0]["result"].get("status") != "created":
        return f"the chat did not add the task: {body}"
    cid, task_id = body["conversation_id"], calls[0]["result"]["task_id"]
    if not isinstance(cid, int):
        return f"conversation_id is not an integer: {cid!r}"
    code, _h, text = http("POST", f"{base}/api/me/chat", {"conversation_id": cid, "message": "what's due tomorrow?"},
                          {**auth, "Accept": "text/event-stream"}, raw=True)
    if code != 200:
        return f"streamed chat answered {code}: {text}"
    events = sse_events(text)
    names = [e for e, _ in events]
    if names[:1] != ["start"] or names[-1:] != ["done"] or "tool_call" not in names or "delta" not in names \
            or names.index("tool_call") > names.index("tool_result"):
        return f"streamed events out of order: {names}"
    done = events[-1][1]
    if done["conversation_id"] != cid or title.lower() not in done["response"].lower():
        return f"the streamed answer does not list the task: {done}"
    code, _h, conv = http("GET", f"{base}/api/me/conversations/{cid}", None, auth)
    if code != 200 or [m["role"] for m in conv["messages"]] != ["user", "assistant", "user", "assistant"]:
        return f"GET conversation answered {code}: {conv}"
    # another user: the conversation is not theirs
    code, _h, other = http("POST", f"{api}/api/auth/signup",
                           {"email": f"k8s-chat-{int(time.time() * 1e6)}@example.com", "password": "k8s-chat-password"})
    if code != 201 and code != 200:
        return f"signing up a second user answered {code}: {other}"
    oauth = {"Authorization": f"Bearer {other['token']}"}
    code, _h, _b = http("GET", f"{base}/api/me/conversations/{cid}", None, oauth)
    if code != 404:
        return f"another user's GET of the conversation answered {code}"
    code, _h, _b = http("POST", f"{base}/api/me/chat", {"conversation_id": cid, "message": f"delete task {task_id}"}, oauth)
    if code != 404:
        return f"another user's chat in the conversation answered {code}"
    code, _h, _b = http("DELETE", f"{base}/api/me/conversations/{cid}", None, auth)
    if code != 204:
        return f"DELETE conversation answered {code}"
    return None


if __name__ == "__main__":
    problem = main(sys.argv)
    if problem:
        print(problem)
        sys.exit(1)
    print("chat: JSON turn added a task (add_task), streamed turn in order, history stored, "
          "foreign conversation 404, deleted")
