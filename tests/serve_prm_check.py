#!/usr/bin/env python3
"""rmens serve of a process reward model against rmens score, over real HTTP and MPI.

usage: serve_prm_check.py RMENS MPIEXEC TMPDIR [QWEN3_TOKENIZER_DIR]   (tests/serve_prm.sh
makes TMPDIR's files)

References, apart from the server's code: the synthetic steps file test.h5 (written by
rmens synth, which does not use prep's or serve's step tokenizer) decoded back to text
here, each solution's step ends recomputed from its text (one past each "\\n" after the
prompt), and rmens score's scores files s_min.h5, s_prod.h5, s_last.h5 of it; the
ensemble's spread of the member scores is recomputed with numpy.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_client as sc  # noqa: E402

RMENS, MPIEXEC, TMP = sys.argv[1:4]
QWEN = sys.argv[4] if len(sys.argv) > 4 else None
TOL = 1e-6
CTX = 48
AGGS = ("min", "prod", "last")
failures = []
worst = [0.0]


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def close(got, want, what):
    """Equal to TOL; a NaN reference (a step cut away by the context) must be null."""
    want = np.asarray(want, np.float64).ravel()
    got = np.asarray([np.nan if g is None else g for g in np.ravel(np.asarray(got, dtype=object))], np.float64)
    if got.shape != want.shape or not np.array_equal(np.isnan(got), np.isnan(want)):
        check(False, f"{what}: {got} against {want}")
        return
    ok = ~np.isnan(want)
    err = float(np.abs(got[ok] - want[ok]).max()) if ok.any() else 0.0
    worst[0] = max(worst[0], err)
    check(err <= TOL, f"{what}: error {err:.3g} > {TOL}")


# ---------------------------------------------------------------- the solutions
PROMPT, RESPONSE, QUESTION, LEN, SOFF = [], [], [], [], [0]
REF = {a: {k: [] for k in ("steps/prob", "steps/mean", "steps/std", "steps/min", "score", "member_score")}
       for a in AGGS}
STEPS_CUT = 0
for name in ("test", "long"):
    with h5py.File(os.path.join(TMP, name + ".h5"), "r") as f:
        tok, off = f["steps/tokens"][:], f["steps/offsets"][:]
        plen, soff, send = f["prompt_len"][:], f["steps/step_offsets"][:], f["steps/step_end"][:]
        check(f.attrs["step_separator"] == "\n", f"{name}.h5 records its step separator")
    for i in range(len(off) - 1):
        t = tok[off[i]:off[i + 1]]
        check(t[-1] == 256 and (t[:-1] < 256).all(), f"{name} {i}: bytes then end-of-text")
        text = bytes(t[:-1].astype(np.uint8)).decode()
        p = text[:plen[i]].rstrip(" ")  # synth's prompt_len stops before the space, prep's after it
        r = text[len(p):]
        check(p.startswith("\n\nHuman: ") and p.endswith("\n\nAssistant:") and r.startswith(" "), f"{name} {i}: {text!r}")
        r = r[1:]  # the HH separator after "Assistant:"
        ends = [len(p) + 1 + k + 1 for k, c in enumerate(r) if c == "\n"]
        check(list(send[soff[i]:soff[i + 1]]) == ends, f"{name} {i}: step ends {send[soff[i]:soff[i + 1]]} != {ends}")
        PROMPT.append(p)
        RESPONSE.append(r)
        QUESTION.append(p[len("\n\nHuman: "):-len("\n\nAssistant:")])
        LEN.append(len(t))
        SOFF.append(SOFF[-1] + soff[i + 1] - soff[i])
    for a in AGGS:
        with h5py.File(os.path.join(TMP, f"{name}_{a}.h5"), "r") as f:
            for k in REF[a]:
                REF[a][k].append(f[k][:].astype(np.float64))
            check(np.array_equal(f["step_offsets"][:], soff), f"{name}_{a}.h5 step offsets")
            STEPS_CUT += int(f.attrs["steps_cut"]) if a == "min" else 0
REF = {a: {k: np.concatenate(v) for k, v in d.items()} for a, d in REF.items()}
with open(os.path.join(TMP, "trl.jsonl")) as f:  # prep's solutions are the records' text
    trl = [json.loads(line) for line in f]
for j, rec in enumerate(trl):
    i = len(PROMPT) - len(trl) + j
    check(QUESTION[i] == rec["prompt"] and RESPONSE[i] == "".join(c + "\n" for c in rec["completions"]),
          f"trl record {j} decoded back")
N = len(PROMPT)
soff = np.array(SOFF)
PROB = REF["min"]["steps/prob"]
K = PROB.shape[1]
for a in AGGS:
    check(np.array_equal(REF[a]["steps/prob"], PROB, equal_nan=True), f"score --aggregate {a}: the same probabilities")
cut_texts = [i for i in range(N) if LEN[i] > CTX]
check(STEPS_CUT > 0 and len(cut_texts) > 0 and len(cut_texts) < N, "some solutions and steps are cut by the context")


# ---------------------------------------------------------------- servers
class Server:
    def __init__(self, np_, ckpt, *opts):
        self.pf = os.path.join(TMP, f"port.{time.monotonic_ns()}")
        self.log = open(self.pf + ".log", "w+")
        cmd = [MPIEXEC, "-n", str(np_), "--oversubscribe", RMENS, "serve", "--ckpt", os.path.join(TMP, ckpt),
               "--port", "0", "--port-file", self.pf] + list(opts)
        env = dict(os.environ, TMPDIR=self.pf + ".d")  # mpiexecs started at once race on one session directory
        os.mkdir(env["TMPDIR"])
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.url = None

    def wait(self):
        t0 = time.time()
        while not os.path.exists(self.pf):
            if self.p.poll() is not None or time.time() - t0 > 120:
                self.log.seek(0)
                raise SystemExit(f"rmens serve did not start: {self.log.read()}")
            time.sleep(0.05)
        self.url = "http://" + open(self.pf).read().strip()
        return self

    def stop(self):
        self.p.send_signal(signal.SIGUSR1)  # a clean stop
        try:
            return self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return "hung"


def ask(srv, path, body=None):
    return sc.request(srv.url + path, body)


def v1_input(i, form):
    if form == "messages":
        return {"messages": [{"role": "user", "content": QUESTION[i]}, {"role": "assistant", "content": RESPONSE[i]}]}
    # a response without its last separator: the last step is closed as prep closes it
    return {"prompt": PROMPT[i], "response": RESPONSE[i][:-1] if form == "open" else RESPONSE[i]}


def check_text(what, i, e, agg):
    s0, s1 = soff[i], soff[i + 1]
    ms = REF[agg]["member_score"][i]
    check(len(e["steps"]) == s1 - s0, f"{what}: {len(e['steps'])} steps, expected {s1 - s0}")
    if len(e["steps"]) != s1 - s0:
        return
    close([st["per_member"] for st in e["steps"]], PROB[s0:s1], f"{what} steps per_member")
    for k in ("mean", "std", "min"):
        close([st[k] for st in e["steps"]], REF["min"]["steps/" + k][s0:s1], f"{what} steps {k}")
    for a in AGGS:
        close(e["score"][a], REF[a]["score"][i], f"{what} score {a}")
    close(e["reward"], REF[agg]["score"][i], f"{what} reward ({agg})")
    close(e["per_member"], ms, f"{what} per_member ({agg})")
    close([e["mean"], e["std"], e["min"], e["max"]], [ms.mean(), ms.std(), ms.min(), ms.max()], f"{what} spread")
    check(e["tokens"] == LEN[i], f"{what}: tokens {e['tokens']} != {LEN[i]}")
    check(e["truncated"] == (LEN[i] > CTX), f"{what}: truncated")
    check(e["steps_cut"] == int(np.isnan(PROB[s0:s1, 0]).sum()), f"{what}: steps_cut")


def client(srv, agg, chunks, errors, c):
    """Chunks of solutions, each sent in one of four forms."""
    try:
        for n, idx in enumerate(chunks):
            form = ("prompt", "messages", "open", "get_reward")[(n + c) % 4]
            if form == "get_reward":
                ans = sc.openrlhf_get_reward(srv.url + "/get_reward", [PROMPT[i] + " " + RESPONSE[i] for i in idx],
                                             [PROMPT[i] for i in idx], [None] * len(idx))
                for j, i in enumerate(idx):
                    ms = REF[agg]["member_score"][i]
                    close([ans["rewards"][j], ans["scores"][j]], [REF[agg]["score"][i]] * 2, f"get_reward {i}")
                    close([ans["extra_logs"]["ens_" + k][j] for k in ("mean", "std", "min", "max")],
                          [ms.mean(), ms.std(), ms.min(), ms.max()], f"get_reward {i} extra_logs")
                    check(ans["extra_logs"]["steps"][j] == soff[i + 1] - soff[i] and
                          ans["extra_logs"]["tokens"][j] == LEN[i], f"get_reward {i} steps and tokens")
                continue
            st, ans, raw, _ = ask(srv, "/v1/rewards", {"inputs": [v1_input(i, form) for i in idx], "per_member": True})
            if st != 200:
                errors.append(f"/v1/rewards {st} {raw[:300]}")
                continue
            check(ans["members"] == K and ans["aggregate"] == agg, f"answer header {ans['members']} {ans['aggregate']}")
            for j, i in enumerate(idx):
                check_text(f"{form} {i}", i, ans["results"][j], agg)
    except Exception as e:  # noqa: BLE001
        errors.append(repr(e))


def scoring(srv, np_, agg, sep_from):
    info = ask(srv, "/v1/info")[1]
    check(info["objective"] == "prm" and info["aggregate"] == agg and info["step_separator"] == "\n" and
          info["step_separator_from"].startswith(sep_from) and info["ranks"] == np_ and info["members"] == K,
          f"info {info}")
    chunks = [list(range(i, min(N, i + 1 + i % 5))) for i in range(0, N, 3)]  # overlapping, 1 to 5 texts
    errors = []
    threads = [threading.Thread(target=client, args=(srv, agg, chunks[c::4], errors, c)) for c in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, f"{np_} ranks, {agg}: {errors[:3]}")
    print(f"ok: {N} solutions on {np_} rank(s), aggregate {agg}, separator from {sep_from}")


def bad_requests(srv):
    long_i = cut_texts[0]
    cases = [
        ("/v1/rewards", [{"prompt": "q", "response": "1\n2"}, {"prompt": "q", "response": "1\n\n2"}],
         "inputs[1]: the response: step 2 is empty"),
        ("/v1/rewards", [{"prompt": "q", "response": ""}], "inputs[0]: the response is empty"),
        ("/v1/rewards", [{"prompt": "q", "response": " \n1\n"}], "inputs[0]: the response: step 1 is empty"),
        ("/v1/rewards", [{"prompt": "q", "response": "1\n" * 9}],
         "inputs[0]: 9 steps, more than the server's limit of 8 per text"),
        ("/v1/rewards", [v1_input(0, "prompt"), v1_input(long_i, "prompt")],
         f"inputs[1]: {LEN[long_i]} tokens, more than the model's context of {CTX}"),
        ("/v1/rewards", {"inputs": [v1_input(0, "prompt"), v1_input(1, "prompt")], "pairs": [[0, 1]]},
         "a process reward model's solution scores are probabilities"),
        ("/v1/rewards", {"inputs": [{"messages": [{"role": "user", "content": "q"}]}]},
         "inputs[0].messages must end with the assistant's response"),
        ("/get_reward", {"query": [PROMPT[0] + " " + RESPONSE[0]]}, "prompts[0] is missing"),
        ("/get_reward", {"query": [PROMPT[0] + " " + RESPONSE[0]], "prompts": [None]}, "prompts[0] is missing"),
        ("/get_reward", {"query": [PROMPT[0] + " " + RESPONSE[0]] * 2, "prompts": [PROMPT[0], PROMPT[1] + "x"]},
         "prompts[1] is not the beginning of query[1]"),
        ("/get_reward", {"query": [PROMPT[0]], "prompts": [PROMPT[0]]},
         "query[0]: the response after its prompt is empty"),
    ]
    for path, body, msg in cases:
        st, ans, raw, _ = ask(srv, path, body)
        got = (ans or {}).get("error", {}).get("message", "")
        check(st == 400 and msg in got, f"{path} {json.dumps(body)[:80]}: {st} {raw[:200]!r}, expected 400 '{msg}'")
    check(ask(srv, "/health")[0] == 200, "health after the bad requests")
    st, ans, raw, _ = ask(srv, "/v1/rewards", {"inputs": [v1_input(0, "prompt")], "per_member": True})
    check(st == 200, f"a good request after the bad ones: {st} {raw[:200]!r}")
    if st == 200:
        check_text("after bad requests", 0, ans["results"][0], "min")
    info = ask(srv, "/v1/info")[1]
    check(info["step_separator_from"] == "option" and info["max_steps"] == 8 and info["truncate"] == "error",
          f"info {info}")
    print(f"ok: {len(cases)} bad requests refused with 400, the server answers afterwards")


def qwen(tpl):
    """tests/prm_trl.jsonl through prep --steps with Qwen3's tokenizer and template tpl
    (chatml or hh): served as {prompt, response} or messages, and as OpenRLHF's query
    rendered in tpl with its prompt, against rmens score of the prep'd file."""
    sep = "\n\n"
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "prm_trl.jsonl")) as f:
        recs = [json.loads(line) for line in f]
    with h5py.File(os.path.join(TMP, f"q_{tpl}.h5"), "r") as f:
        lens, qsoff = np.diff(f["steps/offsets"][:]), f["steps/step_offsets"][:]
        check(f.attrs["step_separator"] == sep, "q.h5 records its separator")
    with h5py.File(os.path.join(TMP, f"q_{tpl}_min.h5"), "r") as f:
        ref = {k: f[k][:].astype(np.float64) for k in ("steps/prob", "steps/mean", "steps/std", "steps/min", "score",
                                                          "member_score")}
    srv = Server(2, f"qens_{tpl}.h5", "--tokenizer", QWEN, "--max-wait-ms", "20").wait()
    info = ask(srv, "/v1/info")[1]
    check(info["step_separator"] == sep and info["step_separator_from"] == "checkpoint" and
          info["template"] == tpl, f"qwen info {info}")
    role = {"user": "user", "assistant": "assistant", "system": "system"}
    inputs, queries, prompts = [], [], []
    for r in recs:
        msgs = [{"role": "user", "content": r["prompt"]}] if isinstance(r["prompt"], str) else r["prompt"]
        steps = "".join(c + sep for c in r["completions"])
        if isinstance(r["prompt"], str):
            inputs.append({"prompt": r["prompt"], "response": steps[:-len(sep)]})  # the last step closed by serve
        else:
            inputs.append({"messages": msgs + [{"role": "assistant", "content": steps}]})
        if tpl == "chatml":
            p = "\n".join(f"<|im_start|>{role[m['role']]}\n{m['content']}<|im_end|>" for m in msgs)
            p += "\n<|im_start|>assistant\n"
            q = p + steps + "<|im_end|>\n"
        else:  # every first step here begins with a letter or digit: HH puts a space before it
            p = "".join(f"\n\nHuman: {m['content']}" for m in msgs) + "\n\nAssistant:"
            q = p + " " + steps
        prompts.append(p)
        queries.append(q)
    st, ans, raw, _ = ask(srv, "/v1/rewards", {"inputs": inputs, "per_member": True})
    check(st == 200, f"qwen /v1/rewards {st} {raw[:300]!r}")
    g = sc.openrlhf_get_reward(srv.url + "/get_reward", queries, prompts, [None] * len(recs))
    for i in range(len(recs) if st == 200 else 0):
        s0, s1 = qsoff[i], qsoff[i + 1]
        e = ans["results"][i]
        check(len(e["steps"]) == s1 - s0 and e["tokens"] == lens[i], f"qwen {i}: {len(e['steps'])} steps, "
              f"{e['tokens']} tokens; prep: {s1 - s0}, {lens[i]}")
        if len(e["steps"]) != s1 - s0:
            continue
        close([x["per_member"] for x in e["steps"]], ref["steps/prob"][s0:s1], f"qwen {i} per_member")
        for k in ("mean", "std", "min"):
            close([x[k] for x in e["steps"]], ref["steps/" + k][s0:s1], f"qwen {i} steps {k}")
        m = ref["steps/mean"][s0:s1]
        close([e["score"]["min"], e["score"]["prod"], e["score"]["last"]],
              [ref["score"][i], np.prod(m), m[-1]], f"qwen {i} scores")
        close(e["per_member"], ref["member_score"][i], f"qwen {i} member scores")
        close(g["rewards"][i], ref["score"][i], f"qwen {i} /get_reward")
        check(g["extra_logs"]["steps"][i] == s1 - s0 and g["extra_logs"]["tokens"][i] == lens[i],
              f"qwen {i} /get_reward: {g['extra_logs']['steps'][i]} steps, {g['extra_logs']['tokens'][i]} tokens")
    check(srv.stop() == 0, "qwen server stopped")
    print(f"ok: {len(recs)} solutions tokenized by Qwen3 (template {tpl}, separator \\n\\n) as prep --steps does")


servers = [Server(1, "ens.h5", "--max-batch-tokens", "200", "--max-wait-ms", "2"),
           Server(2, "ens.h5", "--aggregate", "prod", "--max-wait-ms", "20"),
           Server(4, "nosep.h5", "--aggregate", "last"),  # P > K: a member's two ranks split each batch
           Server(1, "ens.h5", "--step-separator", "\\n", "--truncate", "error", "--max-steps", "8")]
for s in servers:
    s.wait()
scoring(servers[0], 1, "min", "checkpoint")
scoring(servers[1], 2, "prod", "checkpoint")
scoring(servers[2], 4, "last", "default")
bad_requests(servers[3])
for s in servers:
    rc = s.stop()
    check(rc == 0, f"server stopped with {rc}")
if QWEN:
    qwen("chatml")
    qwen("hh")
print(f"largest difference from rmens score: {worst[0]:.3g}")
if failures:
    sys.exit(f"{len(failures)} failures")
print("PASS")
