#!/usr/bin/env python3
"""A client of rmens serve written with Python's standard library only.

openrlhf_get_reward() sends exactly what OpenRLHF's remote reward client sends
(openrlhf/utils/agent.py, _fetch_rewards_via_http; formerly utils/remote_rm_utils.py):
POST {"query": [...], "prompts": [...], "labels": [...]} as JSON (json.dumps, ASCII
escapes) with Content-Type: application/json, a 180 s timeout, and on any failure
(connection error, any non-2xx status, a body that is not JSON) up to 5 tries one second
apart; it returns the decoded answer, whose "rewards", "scores" and "extra_logs" OpenRLHF
reads.

As a program: serve_client.py HOST:PORT|FILE TEXT... prints the answer to the texts
(FILE: a file holding HOST:PORT, as rmens serve --port-file writes it).
"""
import http.client
import json
import sys
import time
import urllib.error
import urllib.request


def base_url(where):
    """http://HOST:PORT from HOST:PORT, a URL, or a file holding HOST:PORT."""
    if where.startswith("http://"):
        return where.rstrip("/")
    if ":" not in where or "/" in where:
        with open(where) as f:
            where = f.read().strip()
    return "http://" + where


def request(url, body=None, method=None, headers=None, timeout=180):
    """One HTTP exchange: (status, decoded JSON or None, raw bytes, headers). body: bytes
    sent as is, or anything else sent as JSON."""
    h = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, bytearray)):
        body = json.dumps(body).encode()
    if body is not None:
        h.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=body, method=method or ("POST" if body is not None else "GET"), headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, status, hdrs = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        raw, status, hdrs = e.read(), e.code, e.headers
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    return status, doc, raw, hdrs


def openrlhf_get_reward(url, queries, prompts, labels, try_max_times=5):
    """OpenRLHF's request: the payload, headers, timeout and retries it uses."""
    data = {"query": queries, "prompts": prompts, "labels": labels}
    for _ in range(try_max_times):
        try:
            req = urllib.request.Request(url, data=json.dumps(data).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=180) as r:  # raises on any non-2xx status
                return json.loads(r.read())
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            print(f"Request error, please check: {e}", file=sys.stderr)
        time.sleep(1)
    raise RuntimeError(f"Request error for {try_max_times} times. Please check the API server.")


def raw_exchange(host, port, data, timeout=30):
    """Sends bytes as they are (a hand-made request, e.g. chunked) and returns (status, body)."""
    import socket
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    resp = b"".join(chunks)
    head, _, body = resp.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: serve_client.py HOST:PORT|FILE TEXT...")
    texts = sys.argv[2:]
    print(json.dumps(openrlhf_get_reward(base_url(sys.argv[1]) + "/get_reward", texts, texts, [None] * len(texts))))
