#!/bin/sh
# rmens against an independent reference (tests/reference.py, written from
# docs/FORMAT.md only):
#   1. prep: every input format, exact text round trip of every record
#   2. files written by h5py are read by `rmens info`; broken ones are rejected
#   3. synth: gold rewards, answers, traps, step labels, splits, determinism
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy
[ -x "$RMENS" ] || fail "$RMENS is not built"
REF="$top_srcdir/tests/reference.py"
ref() { "$PY" "$REF" "$@"; }
# A failed check is reported and counted; the script goes on so that one run
# shows every discrepancy, and exits 1 at the end.
failures=0
bad() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

ref selftest || fail "reference self-test"

# ------------------------------------------------------------ 1. prep round trip
"$PY" - "$TMP" <<'EOF' || fail "writing the input files"
import gzip, json, sys
d = sys.argv[1]
H, A = "\n\nHuman:", "\n\nAssistant:"

def jl(path, recs, opener=open, ascii_every=2):
    with opener(path, "wb") as f:
        for i, r in enumerate(recs):
            if isinstance(r, bytes):
                f.write(r + b"\n")
            else:   # alternate raw UTF-8 and \u escapes
                f.write(json.dumps(r, ensure_ascii=(i % ascii_every == 1)).encode() + b"\n")

hh = lambda c, r, m: {"chosen": c, "rejected": r, "margin": m}
jl(d + "/hh.jsonl", [
    hh(H + " Hi there" + A + " Hello! How can I help?", H + " Hi there" + A + " Go away.", 1.5),
    hh(H + " a" + A + " b" + H + " c" + A + " d1 is longer", H + " a" + A + " b" + H + " c" + A + " d2", 2),
    hh(H + " same" + A + " same", H + " same" + A + " same", 0.5),                  # identical: skipped
    hh(H + " x" + A + " y", H + " z" + A + " y2", 1.0),                               # dialogues differ
    hh(H + " q" + A, H + " q" + A + " r", 1.0),                                       # empty response
    hh(H + " q" + A + "Hi", H + " q" + A + "\nYo", -0.25),                          # verbatim, no separator
    hh(H + " Grüße, 世界 😀 \"quoted\" \\ back\tslash" + A + " Ça va? ✓",
       H + " Grüße, 世界 😀 \"quoted\" \\ back\tslash" + A + " Nein.", 0.75),
    hh(H + " q" + A + " A", H + " q" + A + " B" + H + " more?" + A + " C", 3),      # rejected goes on
    hh(H + " q" + A + " A" + H + " q2" + A + " A2", H + " q" + A + " B", 1),        # dialogues differ
    b'{"chosen": "\\n\\nHuman: bytes\\n\\nAssistant: \xff\xfe not UTF-8 \xc3", '
    b'"rejected": "\\n\\nHuman: bytes\\n\\nAssistant: fine", "margin": 1e-3}',       # kept byte for byte
    hh(H + " nul" + A + " a\u0000b", H + " nul" + A + " ab", 1.0),
    hh(H + " Hi there" + A + "   spaces", H + " Hi there" + A + " Hello! How can I help?", 0.0),
])

pr = lambda p, c, r, sc, sr: {"prompt": p, "chosen": c, "rejected": r, "score_chosen": sc, "score_rejected": sr}
with open(d + "/prompt.json", "w", encoding="utf-8") as f:
    json.dump([
        pr("What is the capital of France?", "Paris.", "London.", 9, 2),
        pr("\tindented question", " already spaced", "\nnewline first", 7.5, 7.25),
        pr(H + " hi" + A + " hello" + H + " more please", "More.", "No.", 1, 0),     # HH transcript
        pr(H + " hi" + A, "Hello.", " Bye.", 3, -1.5),                                 # ends with the header
        pr("", "empty prompt", "still empty", 0.5, 0),
        pr("Say something", "", "something", 2, 1),                                    # empty response
        pr("Same?", "Same.", "Same.", 1, 1),                                           # identical
        pr("¿Qué tal? 日本語 😀", "Bien 👍", "Mal", 4, 3),
        pr("Tell me" + H + " trick", "ok", "no", 1, 0),                                # Human inside, not first
        pr(H + " x" + A + " ", "y", "z", 2, 1),                                        # trailing space: header appended
        pr("multi\nline\n\nprompt", "a\n\nb", "c", 1, 0),
    ], f, ensure_ascii=False, indent=1)

m = lambda role, content: {"role": role, "content": content}
jl(d + "/messages.jsonl.gz", [
    {"prompt": [m("system", "You are terse."), m("user", "Hi")], "chosen": [m("assistant", "Hello.")],
     "rejected": [m("assistant", "What do you want?")], "strength": 0.9},
    {"prompt": "A plain string prompt", "chosen": [m("assistant", "x")], "rejected": [m("assistant", "y")], "strength": 1},
    {"prompt": [m("user", "object response")], "chosen": m("assistant", "one object"),
     "rejected": m("assistant", "another object"), "strength": 2.5},
    {"prompt": [m("user", [{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}])],
     "chosen": [m("assistant", [{"type": "text", "text": " parts"}, {"type": "text", "text": " joined"}])],
     "rejected": [m("assistant", [{"type": "text", "text": "single part"}])], "strength": 0.1},
    {"prompt": [m("user", "go on")], "chosen": [m("assistant", "a"), m("user", "b"), m("assistant", "c")],
     "rejected": [m("assistant", "d")], "strength": 1},
    {"prompt": [m("human", "h"), m("gpt", "g"), m("user", "u")], "chosen": [m("chatgpt", "c")],
     "rejected": [m("model", "m")], "strength": 1},
    {"prompt": [m("user", "u"), m("bot", "b"), m("user", "v")], "chosen": [m("bard", "bard")],
     "rejected": [m("bing", "bing")], "strength": 1},
    {"prompt": [m("user", " spaced"), m("system", "\tsys")], "chosen": [m("assistant", "\n\nlist:\n- a")],
     "rejected": [m("assistant", "plain")], "strength": -1},
    {"prompt": [m("user", "q")], "chosen": [m("assistant", "")], "rejected": [m("assistant", "r")], "strength": 1},
    {"prompt": [m("user", "q")], "chosen": [m("assistant", "same")], "rejected": [m("assistant", "same")], "strength": 1},
    {"prompt": [m("user", "q")], "chosen": "a plain string answer", "rejected": [m("assistant", "list answer")], "strength": 1},
    {"prompt": [m("user", ""), m("assistant", "prior"), m("user", "Ünïcödé 🎉")], "chosen": [m("assistant", "€")],
     "rejected": [m("assistant", "$")], "strength": 1},
], opener=gzip.open)

jl(d + "/implicit.jsonl", [
    {"chosen": [m("user", "q"), m("assistant", "a1")], "rejected": [m("user", "q"), m("assistant", "a2")]},
    {"chosen": [m("system", "s"), m("user", "q"), m("assistant", "a"), m("user", "q2"), m("assistant", "b1")],
     "rejected": [m("system", "s"), m("user", "q"), m("assistant", "a"), m("user", "q2"), m("assistant", "b2")]},
    {"chosen": [m("user", "u"), m("assistant", "a1"), m("user", "u2"), m("assistant", "a3")],
     "rejected": [m("user", "u"), m("assistant", "a2")]},
    {"chosen": [m("user", "u"), m("assistant", "a")], "rejected": [m("user", "u"), m("assistant", "a")]},
    {"chosen": [m("user", [{"type": "text", "text": "p"}, {"type": "text", "text": "q"}]), m("assistant", "x")],
     "rejected": [m("user", [{"type": "text", "text": "p"}, {"type": "text", "text": "q"}]), m("assistant", "y")]},
    {"chosen": [m("user", "日本"), m("assistant", " 東京")], "rejected": [m("user", "日本"), m("assistant", "\n大阪")]},
    {"chosen": [m("user", "u"), m("assistant", "")], "rejected": [m("user", "u"), m("assistant", "x")]},
])

g = lambda who, v: {"from": who, "value": v}
jl(d + "/sharegpt.jsonl", [
    {"conversations": [g("system", "Be nice."), g("human", "Hello")], "chosen": g("gpt", "Hi!"),
     "rejected": g("gpt", "Hmph."), "score_chosen": 8, "score_rejected": 3.5},
    {"conversations": [g("human", "a"), g("gpt", "b"), g("human", "c")], "chosen": g("gpt", " leading space"),
     "rejected": g("gpt", "\nleading newline"), "score_chosen": 1, "score_rejected": 1.5},
    {"conversations": [g("human", "a")], "chosen": g("gpt", "same"), "rejected": g("gpt", "same"),
     "score_chosen": 1, "score_rejected": 0},
    {"conversations": [g("human", "a")], "chosen": g("gpt", ""), "rejected": g("gpt", "x"),
     "score_chosen": 1, "score_rejected": 0},
    {"conversations": [g("human", "Привет")], "chosen": g("gpt", "Здравствуйте"), "rejected": g("gpt", "Пока"),
     "score_chosen": 2, "score_rejected": 1},
])

# auto: a string prompt with list answers is the messages format (one Human turn)
jl(d + "/autostr.jsonl", [
    {"prompt": H + " looks like HH", "chosen": [m("assistant", "x")], "rejected": [m("assistant", "y")]},
    {"prompt": "plain", "chosen": [m("assistant", "a"), m("user", "b")], "rejected": [m("gpt", "c")]},
])

# 60 pairs on 8 prompts, for --val-out: pairs that share a prompt stay together
jl(d + "/shared.jsonl", [{"prompt": "Question number %d?" % (i % 8), "chosen": "good %d" % i,
                          "rejected": "bad %d" % i} for i in range(60)])

# string prompt and string answers, forced to the messages format: one Human turn
with gzip.open(d + "/forced.json.gz", "wt", encoding="utf-8") as f:
    json.dump([
        {"prompt": H + " hi", "chosen": "yes", "rejected": " no", "pref": 0.25},
        {"prompt": "plain", "chosen": [m("assistant", "x")], "rejected": "y", "pref": 4},
    ], f)

# malformed records (prompt format): stop, or skip with --skip-bad
jl(d + "/bad.jsonl", [
    {"prompt": "fine", "chosen": "good", "rejected": "bad"},
    b'{"prompt": "x", "chosen": "y"',
    b'[1, 2]',
    {"prompt": "x", "chosen": "y"},
    {"prompt": "x", "chosen": 5, "rejected": "z"},
    {"prompt": "also fine", "chosen": "good", "rejected": "bad"},
])
jl(d + "/badrole.jsonl", [
    {"prompt": [m("user", "q")], "chosen": [m("assistant", "a")], "rejected": [m("assistant", "b")]},
    {"prompt": [m("wizard", "q")], "chosen": [m("assistant", "a")], "rejected": [m("assistant", "b")]},
])
with open(d + "/bad.json", "w") as f:
    json.dump([{"prompt": "fine", "chosen": "good", "rejected": "bad"}, "not an object"], f)
EOF

# Runs of rmens are slow to start (about 0.4 s, mostly idle), so independent
# runs go in parallel: bg NAME CMD... runs CMD with output in $TMP/NAME.log
# and its exit status in $TMP/NAME.rc; collect after `wait`. Each run gets its
# own TMPDIR: Open MPI singletons started at once race on a shared session
# directory under /tmp ("mkdir ... File exists").
bg() {
    _bg=$1; shift
    mkdir -p "$TMP/run/$_bg"
    ( TMPDIR="$TMP/run/$_bg"; export TMPDIR
      "$@" >"$TMP/$_bg.log" 2>&1; echo $? >"$TMP/$_bg.rc" ) &
}
rc() { cat "$TMP/$1.rc"; }

bg hh        "$RMENS" prep "$TMP/hh.jsonl" --out "$TMP/hh.h5"
bg prompt    "$RMENS" prep "$TMP/prompt.json" --out "$TMP/prompt.h5" --quiet
bg messages  "$RMENS" prep "$TMP/messages.jsonl.gz" --out "$TMP/messages.h5" --quiet --margin-field strength
bg implicit  "$RMENS" prep "$TMP/implicit.jsonl" --out "$TMP/implicit.h5" --quiet
bg sharegpt  "$RMENS" prep "$TMP/sharegpt.jsonl" --out "$TMP/sharegpt.h5" --quiet
bg autostr   "$RMENS" prep "$TMP/autostr.jsonl" --out "$TMP/autostr.h5" --quiet
bg shared    "$RMENS" prep "$TMP/shared.jsonl" --out "$TMP/shared.h5" --val-out "$TMP/shared-val.h5" \
                --val-fraction 0.5 --seed 7 --quiet
bg forced    "$RMENS" prep "$TMP/forced.json.gz" --out "$TMP/forced.h5" --quiet --format messages --margin-field pref
bg hh-max    "$RMENS" prep "$TMP/hh.jsonl" --out "$TMP/hh-max.h5" --quiet --max-records 6
bg prompt-sc "$RMENS" prep "$TMP/prompt.json" --out "$TMP/prompt-sc.h5" --quiet --format prompt --margin-field score_chosen
for name in bad.jsonl badrole.jsonl bad.json; do
    bg "stop-$name" "$RMENS" prep "$TMP/$name" --out "$TMP/stop-$name.h5" --quiet
    bg "skip-$name" "$RMENS" prep "$TMP/$name" --out "$TMP/skip-$name.h5" --quiet --skip-bad
done
wait

# check NAME IN [compare options]: queue the reference's verdict on $TMP/NAME.h5
# (the queue runs in one Python process: see `reference.py batch`)
check() {
    _ck=$1; _in=$2; shift 2
    if [ "$(rc "$_ck")" != 0 ]; then
        cat "$TMP/$_ck.log" >&2; bad "rmens prep $(basename "$_in") $* failed"; return
    fi
    _args=$(for _a in "$_in" "$TMP/$_ck.h5" "$@"; do printf " '%s'" "$_a"; done)
    echo "prep-$_ck: compare$_args" >>"$TMP/compare.batch"
}
: >"$TMP/compare.batch"
check hh        "$TMP/hh.jsonl" --expect-written 8 --expect-skip "dialogues differ=2" \
                --expect-skip identical=1 --expect-skip "empty response=1"
check prompt    "$TMP/prompt.json" --expect-written 9
check messages  "$TMP/messages.jsonl.gz" --margin-field strength --expect-written 10
check implicit  "$TMP/implicit.jsonl" --expect-written 5
check sharegpt  "$TMP/sharegpt.jsonl" --expect-written 3
check autostr   "$TMP/autostr.jsonl" --expect-written 2
if [ "$(rc shared)" = 0 ]; then
    echo "prep-shared: compare '$TMP/shared.jsonl' '$TMP/shared.h5' '$TMP/shared-val.h5' --val-fraction 0.5 --seed 7 --expect-written 60" \
        >>"$TMP/compare.batch"
else
    cat "$TMP/shared.log" >&2; bad "rmens prep shared.jsonl --val-out failed"
fi
check forced    "$TMP/forced.json.gz" --format messages --margin-field pref --expect-written 2
check hh-max    "$TMP/hh.jsonl" --max-records 6 --expect-written 3
check prompt-sc "$TMP/prompt.json" --format prompt --margin-field score_chosen
if grep -qi 'utf-8' "$TMP/hh.log"; then echo "ok: prep warns about the invalid UTF-8 in hh.jsonl"
else bad "prep printed no warning about the invalid UTF-8 in hh.jsonl"; fi

# a malformed record stops prep with FILE:LINE (JSON Lines) or FILE: element K
# (JSON array) and no output file; --skip-bad skips it instead
for case in bad.jsonl:bad.jsonl:2: badrole.jsonl:badrole.jsonl:2: bad.json:"bad.json: element"; do
    name=${case%%:*}; want=${case#*:}
    if [ "$(rc "stop-$name")" = 0 ]; then
        bad "prep accepted the malformed $name"
    elif ! grep -qF "$want" "$TMP/stop-$name.log"; then
        cat "$TMP/stop-$name.log" >&2; bad "prep's error for $name does not say '$want'"
    elif [ -e "$TMP/stop-$name.h5" ]; then
        bad "prep left stop-$name.h5 behind after an error"
    else
        echo "ok: prep stops on the malformed $name: $(head -n 1 "$TMP/stop-$name.log")"
    fi
    check "skip-$name" "$TMP/$name" --skip-bad
done
ref batch <"$TMP/compare.batch" || bad "rmens prep output differs from the reference rendering (see above)"
leftover=
for f in "$TMP"/*.tmp.*; do [ -e "$f" ] && leftover="$leftover $f"; done
if [ -n "$leftover" ]; then bad "temporary files left behind:$leftover"
else echo "ok: no temporary FILE.tmp.<pid> left behind"; fi

# -------------------------------------------------- 2. files written by h5py
mkdir "$TMP/v"
ref write-variants "$TMP/v" >"$TMP/variants" || bad "the reference disagrees with itself on its variants"
variants=$(tr ' ' ':' <"$TMP/variants")
for v in $variants; do
    variant=${v%%:*}
    bg "info-$variant" "$RMENS" info "$TMP/v/$variant.h5" --show 0
done
wait
for v in $variants; do
    variant=${v%%:*}; words=$(echo "${v#*:}" | tr ':' ' ')
    log="$TMP/info-$variant.log"
    if [ "$words" = "-" ]; then
        if [ "$(rc "info-$variant")" != 0 ]; then
            cat "$log" >&2; bad "rmens info rejects the valid h5py file $variant"; continue
        fi
        missing=
        for s in "Human: hi" "Assistant:" " Hello!" " Go away."; do
            grep -qF "$s" "$log" || missing="$missing '$s'"
        done
        if [ -n "$missing" ]; then cat "$log" >&2; bad "info --show 0 ($variant) does not print$missing"; continue; fi
        echo "ok: h5py file $variant accepted by rmens info, --show 0 prints its text back"
    else
        if [ "$(rc "info-$variant")" = 0 ]; then bad "rmens info accepts the broken file $variant"; continue; fi
        found=
        for w in $words; do grep -qF "$w" "$log" && found=$w; done
        if [ -z "$found" ]; then cat "$log" >&2; bad "rmens info's rejection of $variant names none of: $words"; continue; fi
        echo "ok: rmens info rejects $variant: $(grep -F "$found" "$log" | head -n 1)"
    fi
done

# ------------------------------------------------------------------ 3. synth
for task in sort add steps; do
    bg "$task-train" "$RMENS" synth --task "$task" --split train --n 2000 --seed 11 --traps 0.3 --out "$TMP/$task-train.h5" --quiet
    bg "$task-again" "$RMENS" synth --task "$task" --split train --n 2000 --seed 11 --traps 0.3 --out "$TMP/$task-again.h5" --quiet
    bg "$task-test"  "$RMENS" synth --task "$task" --split test --n 500 --seed 12 --out "$TMP/$task-test.h5" --quiet
    bg "$task-resp"  "$RMENS" synth --task "$task" --split test --n 300 --seed 11 --responses --out "$TMP/$task-resp.h5" --quiet
    bg "$task-syc"   "$RMENS" synth --task "$task" --split train --n 800 --seed 13 --traps 0.4 --trap-kinds all --out "$TMP/$task-syc.h5" --quiet
    bg "$task-cand"  "$RMENS" synth --task "$task" --split test --n 20 --candidates 40 --seed 13 --traps 0.5 --trap-kinds all --out "$TMP/$task-cand.h5" --quiet
done
bg bias-length "$RMENS" synth --n 1500 --seed 14 --bias length=0.3 --out "$TMP/bias-length.h5" --quiet
bg bias-syc "$RMENS" synth --n 1500 --seed 14 --trap-kinds all --bias sycophancy=0.2 --out "$TMP/bias-syc.h5" --quiet
bg bt-noise "$RMENS" synth --task add --n 1500 --seed 14 --bt-noise 4 --out "$TMP/bt-noise.h5" --quiet
bg notraps "$RMENS" synth --task sort --n 50 --traps 0 --out "$TMP/notraps.h5" --quiet
wait
synth_ok() {
    if [ "$(rc "$1")" != 0 ]; then cat "$TMP/$1.log" >&2; bad "rmens synth ($1) failed"; return 1; fi
}
: >"$TMP/synth.batch"
for task in sort add steps; do
    synth_ok "$task-train" && synth_ok "$task-test" && synth_ok "$task-resp" && synth_ok "$task-again" \
        && cat >>"$TMP/synth.batch" <<EOF
$task-train: check-synth '$TMP/$task-train.h5' --task $task --split train --traps 0.3
$task-test: check-synth '$TMP/$task-test.h5' --task $task --split test --traps 0.15
$task-responses: check-synth '$TMP/$task-resp.h5' --task $task --split test --responses
$task-train-test-disjoint: disjoint '$TMP/$task-train.h5' '$TMP/$task-test.h5'
$task-train-responses-disjoint: disjoint '$TMP/$task-train.h5' '$TMP/$task-resp.h5'
$task-reproducible: same-content '$TMP/$task-train.h5' '$TMP/$task-again.h5'
EOF
    synth_ok "$task-syc" && synth_ok "$task-cand" && cat >>"$TMP/synth.batch" <<EOF
$task-sycophancy: check-synth '$TMP/$task-syc.h5' --task $task --split train --traps 0.4 --trap-kinds all
$task-candidates: check-synth '$TMP/$task-cand.h5' --task $task --split test --traps 0.5 --trap-kinds all --candidates 40
EOF
done
synth_ok bias-length && echo "bias-length: check-synth '$TMP/bias-length.h5' --task sort --split train --traps 0.15 --bias length=0.3" >>"$TMP/synth.batch"
synth_ok bias-syc && echo "bias-sycophancy: check-synth '$TMP/bias-syc.h5' --task sort --split train --traps 0.15 --trap-kinds all --bias sycophancy=0.2" >>"$TMP/synth.batch"
synth_ok bt-noise && echo "bt-noise: check-synth '$TMP/bt-noise.h5' --task add --split train --traps 0.15 --bt-noise 4" >>"$TMP/synth.batch"
synth_ok notraps && echo "no-traps: check-synth '$TMP/notraps.h5' --task sort --split train --traps 0" >>"$TMP/synth.batch"
ref batch <"$TMP/synth.batch" || bad "rmens synth output differs from docs/FORMAT.md (see above)"

[ "$failures" = 0 ] || fail "$failures check(s) of h5py_interop failed"
echo "PASS: h5py_interop"
exit 0
