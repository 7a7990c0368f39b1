#!/usr/bin/env python3
"""rmens serve over real loopback HTTP and real MPI, against rmens score.

usage: serve_check.py RMENS MPIEXEC TMPDIR CKPT PART...   PART: scoring bad limits signals

The references are independent of the server's code: texts are rendered with the HH
template and byte-tokenized here (docs/FORMAT.md), written as a "responses" file with
h5py, and scored by `rmens score --per-member`; P(a > b) is recomputed with numpy.
"""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_client as sc  # noqa: E402

RMENS, MPIEXEC, TMP, CKPT = sys.argv[1:5]
PARTS = sys.argv[5:] or ["scoring", "bad", "limits", "signals"]
TOL = 1e-5
failures = []
worst = [0.0]  # the largest relative error seen


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


# ------------------------------------------------------------ the texts and references
def render(prompt, response):
    """HH template (docs/FORMAT.md): "\\n\\nHuman: p\\n\\nAssistant: r", no space before
    white space or nothing."""
    def turn(head, c):
        return head + ("" if c == "" or c[0].isspace() else " ") + c
    return turn("\n\nHuman:", prompt) + turn("\n\nAssistant:", response)


WORDS = ["sort", "the", "numbers", "3", "1", "2", "please", "héllo", "中文", "🙂", "a", "ok", "\n", "  ", "x" * 30]
rng = random.Random(7)
PROMPTS, RESPONSES = [], []
for i in range(160):
    PROMPTS.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))).strip() or "q")
    # mixed lengths: empty, short, and longer than the model's context (cut from the left)
    RESPONSES.append(" ".join(rng.choice(WORDS) for _ in range(rng.choice([0, 1, 2, 5, 10, 40]))))
TEXTS = [render(p, r) for p, r in zip(PROMPTS, RESPONSES)]
N = len(TEXTS)


def reference():
    """Every member's reward of every text, by rmens score on a responses file."""
    seqs = [list(t.encode()) + [256] for t in TEXTS]
    path, out = os.path.join(TMP, "texts.h5"), os.path.join(TMP, "texts_scores.h5")
    with h5py.File(path, "w") as f:
        f.attrs.update(rmens_format="responses", rmens_version=1, vocab_size=257, eot_token=256, tokenizer="bytes")
        f["responses/tokens"] = np.concatenate(seqs).astype(np.int32)
        f["responses/offsets"] = np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64)
    subprocess.run([RMENS, "score", "--ckpt", CKPT, "--data", path, "--out", out, "--per-member", "--force",
                    "--normalize", "none", "--quiet"], check=True)  # serve's rewards are raw
    with h5py.File(out, "r") as f:
        return f["rewards"][:].astype(np.float64), {k: f[k][:].astype(np.float64) for k in ("mean", "min", "max",
                                                                                             "std", "uwo")}


PER, AGG = reference()
K = PER.shape[1]


def close(got, want, what, scale=None):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    s = np.maximum(np.abs(want), 1e-3) if scale is None else scale
    err = np.abs(got - want) / s
    worst[0] = max(worst[0], float(err.max()) if err.size else 0.0)
    check(got.shape == want.shape and err.max() <= TOL, f"{what}: relative error {err.max():.3g} > {TOL}")


# -------------------------------------------------------------------------- servers
class Server:
    """mpiexec -n np rmens serve ... on a free port (--port 0, read from --port-file)."""

    def __init__(self, np_, *opts, env=None):
        self.pf = os.path.join(TMP, f"port.{time.monotonic_ns()}")
        self.log = open(self.pf + ".log", "w+")
        cmd = [MPIEXEC, "-n", str(np_), "--oversubscribe", RMENS, "serve", "--ckpt", CKPT, "--port", "0",
               "--port-file", self.pf] + list(opts)
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        t0 = time.time()
        while not os.path.exists(self.pf):
            if self.p.poll() is not None or time.time() - t0 > 120:
                raise SystemExit(f"rmens serve did not start: {self.output()}")
            time.sleep(0.05)
        self.hostport = open(self.pf).read().strip()
        self.host, self.port = self.hostport.rsplit(":", 1)
        self.url = "http://" + self.hostport

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def ranks(self):
        out = subprocess.run(["pgrep", "-P", str(self.p.pid)], capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]

    def stop(self, how="usr1", timeout=120):
        """Stops the server: SIGUSR1 to mpiexec (which forwards it), or SIGTERM or SIGINT to
        every rank (as SLURM signals a job's tasks); returns mpiexec's exit status."""
        if how == "usr1":
            self.p.send_signal(signal.SIGUSR1)
        else:
            for pid in self.ranks():
                os.kill(pid, signal.SIGINT if how == "int" else signal.SIGTERM)
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return "hung"


def ask(srv, path, body=None, **kw):
    return sc.request(srv.url + path, body, **kw)


# -------------------------------------------------------------------------- scoring
def v1_input(i, form):
    if form == "messages":
        return {"messages": [{"role": "user", "content": PROMPTS[i]}, {"role": "assistant", "content": RESPONSES[i]}]}
    return {"prompt": PROMPTS[i], "response": RESPONSES[i]}


def client(srv, chunks, results, errors):
    """One of 16 concurrent clients: OpenRLHF's request, or the native one."""
    try:
        for n, idx in enumerate(chunks):
            if n % 2 == 0:
                ans = sc.openrlhf_get_reward(srv.url + "/get_reward", [TEXTS[i] for i in idx],
                                             [PROMPTS[i] for i in idx], [None] * len(idx))
                for j, i in enumerate(idx):
                    results.append(("get_reward", i, ans["rewards"][j], ans["scores"][j],
                                    {k: ans["extra_logs"][k][j] for k in ans["extra_logs"]}))
            else:
                form = "messages" if n % 4 == 1 else "prompt"
                st, ans, raw, _ = ask(srv, "/v1/rewards", {"inputs": [v1_input(i, form) for i in idx],
                                                           "per_member": True})
                if st != 200:
                    errors.append(f"/v1/rewards {st} {raw[:200]}")
                    continue
                for j, i in enumerate(idx):
                    results.append(("v1", i, ans["results"][j], None, None))
    except Exception as e:  # noqa: BLE001
        errors.append(repr(e))


def check_results(results, what):
    """Relative to the size of text i's rewards (its largest member reward): an aggregate
    near 0 (members of opposite signs) is judged on the scale of what it aggregates."""
    seen = set()
    for kind, i, a, b, logs in results:
        seen.add(i)
        sc_ = max(np.abs(PER[i]).max(), 1e-3)
        if kind == "get_reward":
            close(a, AGG["mean"][i], f"{what} text {i} rewards", sc_)
            close(b, a, f"{what} text {i} scores = rewards", sc_)
            for k in ("mean", "min", "max"):
                close(logs["ens_" + k], AGG[k][i], f"{what} text {i} ens_{k}", sc_)
            close(logs["ens_std"], PER[i].std(), f"{what} text {i} ens_std", sc_)
        else:
            close(a["per_member"], PER[i], f"{what} text {i} per_member", sc_)
            close(a["reward"], AGG["mean"][i], f"{what} text {i} reward", sc_)
            close(a["uwo"], AGG["uwo"][i], f"{what} text {i} uwo", sc_)
            check(a["tokens"] == len(TEXTS[i].encode()) + 1, f"{what} text {i} tokens")
            check(a["truncated"] == (a["tokens"] > CTX), f"{what} text {i} truncated")
    check(seen == set(range(N)), f"{what}: every text answered ({len(seen)} of {N})")


def part_scoring():
    for np_, opts in ((1, []), (2, ["--max-batch-tokens", "300", "--max-wait-ms", "2"]),
                      (4, ["--max-batch-tokens", "100000", "--max-wait-ms", "30"])):
        srv = Server(np_, *opts)
        info = ask(srv, "/v1/info")[1]
        check(info["members"] == K and info["ranks"] == np_ and info["tokenizer"] == "bytes", f"info {info}")
        check(ask(srv, "/health")[0] == 200, "health")
        # 16 clients at once, chunks of 1 to 6 texts in random order
        order = list(range(N))
        random.Random(np_).shuffle(order)
        chunks, at = [], 0
        while at < N:
            k = random.Random(at).randint(1, 6)
            chunks.append(order[at:at + k])
            at += k
        results, errors = [], []
        threads = [threading.Thread(target=client, args=(srv, chunks[c::16], results, errors)) for c in range(16)]
        t0 = time.time()
        [t.start() for t in threads]
        [t.join() for t in threads]
        dt = time.time() - t0
        check(not errors, f"P={np_}: client errors {errors[:3]}")
        check_results(results, f"P={np_} {' '.join(opts)}")
        # pairs: P(a > b) from each member's Bradley-Terry probability
        body = {"inputs": [v1_input(i, "prompt") for i in range(6)], "pairs": [[0, 1], [2, 3], [5, 4]]}
        st, ans, raw, _ = ask(srv, "/v1/rewards", body)
        check(st == 200 and len(ans["pairs"]) == 3, f"pairs answer {raw[:300]}")
        for q, (a, b) in enumerate(body["pairs"]):
            p = 1 / (1 + np.exp(-(PER[a] - PER[b])))
            got = ans["pairs"][q]
            close(got["p"], p.mean(), f"pair {a},{b} p", scale=1)
            close(got["p_std"], p.std(), f"pair {a},{b} p_std", scale=1)
            close(got["margin_mean"], (PER[a] - PER[b]).mean(), f"pair {a},{b} margin", scale=1)
            pm = p.mean()  # uncertainty: the predictive entropy of that mean, in nats
            close(got["uncertainty"], -(pm * np.log(pm) + (1 - pm) * np.log(1 - pm)), f"pair {a},{b} uncertainty",
                  scale=1)
        rc = srv.stop()
        check(rc == 0, f"P={np_}: exit status {rc}: {srv.output()[-2000:]}")
        print(f"P={np_} {' '.join(opts)}: {len(results)} texts by 16 clients in {dt:.2f} s, largest relative "
              f"error so far {worst[0]:.2g} (limit {TOL})")


# ---------------------------------------------------------------------- bad requests
def part_bad():
    srv = Server(2, "--max-body", "8192")
    long_ = json.dumps({"query": ["x" * 9000]}).encode()
    cases = [
        ("malformed JSON", "/get_reward", b'{"query": ["a"', 400),
        ("not JSON", "/get_reward", b"hello", 400),
        ("trailing data", "/get_reward", b'{"query": ["a"]} x', 400),
        ("empty body", "/get_reward", b"", 400),
        ("null body", "/get_reward", b"null", 400),
        ("deep nesting", "/get_reward", b"[" * 200 + b"]" * 200, 400),
        ("query is a string", "/get_reward", {"query": "a text"}, 400),
        ("query element a number", "/get_reward", {"query": ["a", 1]}, 400),
        ("prompts not a list", "/get_reward", {"query": ["a"], "prompts": "p"}, 400),
        ("prompts of another length", "/get_reward", {"query": ["a"], "prompts": ["p", "q"]}, 400),
        ("labels of another length", "/get_reward", {"query": ["a"], "labels": [1, 2]}, 400),
        ("missing query", "/get_reward", {"prompts": ["a"]}, 400),
        ("empty query", "/get_reward", {"query": []}, 400),
        ("invalid UTF-8", "/get_reward", b'{"query": ["\xff\xfe"]}', 400),
        ("body over the limit", "/get_reward", long_, 413),
        ("empty inputs", "/v1/rewards", [], 400),
        ("empty inputs object", "/v1/rewards", {"inputs": []}, 400),
        ("input lacks response", "/v1/rewards", [{"prompt": "a"}], 400),
        ("prompt a number", "/v1/rewards", [{"prompt": 1, "response": "b"}], 400),
        ("per_member a string", "/v1/rewards", {"inputs": [{"prompt": "a", "response": "b"}], "per_member": "yes"},
         400),
        ("pair with itself", "/v1/rewards", {"inputs": [{"prompt": "a", "response": "b"}], "pairs": [[0, 0]]}, 400),
        ("pair out of range", "/v1/rewards", {"inputs": [{"prompt": "a", "response": "b"}] * 2, "pairs": [[0, 2]]},
         400),
        ("messages end with the user", "/v1/rewards", [{"messages": [{"role": "user", "content": "a"}]}], 400),
        ("unknown role", "/v1/rewards", [{"messages": [{"role": "wizard", "content": "a"}]}], 400),
        ("a file name", "/v1/rewards", {"inputs": [{"prompt": "a", "response": "b"}], "ckpt": "/etc/passwd"}, None),
        ("unknown route", "/score", {"query": ["a"]}, 404),
    ]
    for name, path, body, want in cases:
        st, doc, raw, _ = ask(srv, path, body)
        if want is None:  # extra fields are ignored: nothing in a request names a file
            check(st == 200, f"{name}: {st} {raw[:200]}")
            continue
        ok = st == want and isinstance(doc, dict) and doc["error"]["code"] == want and doc["error"]["message"]
        check(ok, f"{name}: expected {want} with a JSON error, got {st} {raw[:200]}")
        print(f"  {name}: {st} {doc['error']['message'] if ok else raw[:100]}")
    st, doc, raw, _ = ask(srv, "/get_reward", method="GET")
    check(st == 405 and doc["error"]["code"] == 405, f"GET /get_reward: {st}")
    # chunked upload past the limit (no Content-Length to refuse it by)
    body = json.dumps({"query": ["y" * 20000]}).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 4000]), body[i:i + 4000]) for i in range(0, len(body), 4000))
    st, raw = sc.raw_exchange(srv.host, int(srv.port), b"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Type: "
                              b"application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked
                              + b"0\r\n\r\n")
    check(st == 413 and json.loads(raw)["error"]["code"] == 413, f"chunked body over the limit: {st} {raw[:200]}")
    # still serving, and right
    ans = sc.openrlhf_get_reward(srv.url + "/get_reward", TEXTS[:3], PROMPTS[:3], [None] * 3)
    close(ans["rewards"], AGG["mean"][:3], "after bad requests")
    rc = srv.stop()
    check(rc == 0, f"bad: exit status {rc}")


# ------------------------------------------------------------ limits: token, context, queue
def part_limits():
    tok = os.path.join(TMP, "token")
    with open(tok, "w") as f:
        f.write("s3cret-token\n")
    srv = Server(1, "--token-file", tok, "--truncate", "error", "--reward", "uwo", "--lambda", "0.7")
    good = {"Authorization": "Bearer s3cret-token"}
    for name, hdr in (("no token", {}), ("wrong token", {"Authorization": "Bearer s3cret-tokem"}),
                      ("prefix of the token", {"Authorization": "Bearer s3cret"}),
                      ("not bearer", {"Authorization": "Basic czNjcmV0LXRva2Vu"})):
        st, doc, raw, h = ask(srv, "/get_reward", {"query": ["a"]}, headers=hdr)
        check(st == 401 and doc["error"]["code"] == 401 and h.get("WWW-Authenticate") == "Bearer",
              f"{name}: {st} {raw[:200]}")
    check(ask(srv, "/v1/info")[0] == 401, "info without token")
    check(ask(srv, "/health")[0] == 200, "health needs no token")
    short = [i for i in range(N) if len(TEXTS[i].encode()) + 1 <= CTX]
    long_ = [i for i in range(N) if len(TEXTS[i].encode()) + 1 > CTX]
    st, doc, raw, _ = ask(srv, "/get_reward", {"query": [TEXTS[short[0]], TEXTS[long_[0]]]}, headers=good)
    check(st == 400 and "context" in doc["error"]["message"], f"--truncate error: {st} {raw[:200]}")
    st, doc, raw, _ = ask(srv, "/get_reward", {"query": [TEXTS[i] for i in short[:5]]}, headers=good)
    check(st == 200, f"good token: {st} {raw[:200]}")
    if st == 200:
        want = AGG["mean"][short[:5]] - 0.7 * PER[short[:5]].var(1)
        close(doc["rewards"], want, "--reward uwo --lambda 0.7")
    check(srv.stop() == 0, "limits: exit status")

    # A full queue answers 503 at once (the first request waits 2 s for company).
    srv = Server(1, "--max-queue", "1", "--max-wait-ms", "2000")
    first = []
    t = threading.Thread(target=lambda: first.append(ask(srv, "/get_reward", {"query": [TEXTS[0]]})))
    t.start()
    time.sleep(0.5)
    t0 = time.time()
    st, doc, raw, h = ask(srv, "/get_reward", {"query": [TEXTS[1]]})
    check(st == 503 and doc["error"]["code"] == 503 and h.get("Retry-After") == "1" and time.time() - t0 < 1,
          f"full queue: {st} {raw[:200]}")
    # OpenRLHF's client retries a second later, and gets through.
    ans = sc.openrlhf_get_reward(srv.url + "/get_reward", [TEXTS[1]], [PROMPTS[1]], [None])
    close(ans["rewards"], AGG["mean"][1:2], "after a 503, retried")
    t.join()
    check(first and first[0][0] == 200, "the queued request answered")
    close(first[0][1]["rewards"], AGG["mean"][:1], "the queued request")
    check(srv.stop() == 0, "queue: exit status")


# ------------------------------------------------------------------------- signals
def part_signals():
    for np_, how in ((2, "term"), (4, "term"), (2, "int"), (2, "usr1")):
        srv = Server(np_, "--max-wait-ms", "1500")
        answers = []

        def one(i):
            answers.append((i, ask(srv, "/get_reward", {"query": [TEXTS[i], TEXTS[i + 1]]})))
        threads = [threading.Thread(target=one, args=(2 * c,)) for c in range(8)]
        [t.start() for t in threads]
        time.sleep(0.5)  # all 8 queued, waiting for company
        rc = srv.stop(how)
        [t.join() for t in threads]
        check(rc == 0, f"SIGTERM/INT/USR1 ({how}) on {np_} ranks: exit status {rc}: {srv.output()[-1500:]}")
        check(len(answers) == 8 and all(a[1][0] == 200 for a in answers),
              f"{how} on {np_} ranks: requests in flight answered: {[a[1][0] for a in answers]}")
        for i, a in answers:
            if a[0] == 200:
                close(a[1]["rewards"], AGG["mean"][i:i + 2], f"{how}: in-flight answer {i}")
        check("stopped after" in srv.output(), f"{how}: summary printed: {srv.output()[-500:]}")
        print(f"{how} on {np_} ranks: 8 requests in flight answered, exit 0")


with h5py.File(CKPT, "r") as f:
    CTX = int(f.attrs["n_ctx"]) if "n_ctx" in f.attrs else int(f["config"].attrs["n_ctx"])
for part in PARTS:
    print(f"--- {part}")
    globals()["part_" + part]()
if failures:
    sys.exit(f"{len(failures)} failures")
print("serve: all checks passed")
