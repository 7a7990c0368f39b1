#!/bin/sh
# rmens prep on the formats of issue 18 — summarize-from-feedback, UltraFeedback
# (binarized and raw), HelpSteer2-Preference, HelpSteer2, rankings — each on a
# hand-written sample and on a sample in the dataset's real shape (tests/prep_formats/),
# detected by --format auto and forced by --format NAME. Every pair is compared with an
# independent reading (tests/prep_formats_check.py: the documented template, h5py,
# the text decoded back); a few values are also checked against hand-worked numbers.
# Then --margin-scale, --helpsteer-weights, and bad input: each refused with a message
# naming the record and field, and nothing written.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_python h5py
need_python numpy
[ -x "$RMENS" ] || fail "$RMENS is not built"
D="$top_srcdir/tests/prep_formats"
CHECK="$top_srcdir/tests/prep_formats_check.py"
failures=0
bad() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# convert FORMAT SAMPLE [prep options] -- [check options]: auto-detected, then forced;
# both outputs checked and equal.
convert() {
    fmt=$1 sample=$2 npairs=""
    for o in "$@"; do [ -n "$npairs" ] && [ "$npairs" = next ] && npairs=$o; [ "$o" = --expect-pairs ] && npairs=next; done
    shift 2
    popts=""
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do popts="$popts $1"; shift; done
    [ $# -gt 0 ] && shift
    out="$TMP/$sample.h5"
    # shellcheck disable=SC2086
    if ! "$RMENS" prep "$D/$sample.jsonl" --out "$out" $popts >"$TMP/log" 2>&1; then
        cat "$TMP/log" >&2; bad "$sample: prep (auto) failed"; return
    fi
    grep -q "(format $fmt)" "$TMP/log" || { cat "$TMP/log" >&2; bad "$sample: auto did not detect $fmt"; }
    # rmens's own counts of written and skipped pairs, as the reference expects them
    for o in "$@"; do
        case $o in
        tie=*) n=${o#tie=}; [ "$n" = 0 ] || grep -q "tie (strength 0, equal scores or ranks) *$n\$" "$TMP/log" ||
            bad "$sample: prep did not report $n ties: $(cat "$TMP/log")" ;;
        unrated=*) grep -q "completion without a rating (left out) *${o#unrated=}\$" "$TMP/log" ||
            bad "$sample: prep did not report ${o#unrated=} unrated completions" ;;
        esac
    done
    grep -q "pairs written    $npairs\$" "$TMP/log" || bad "$sample: prep did not report $npairs pairs written"
    "$PY" "$CHECK" "$fmt" "$D/$sample.jsonl" "$out" "$@" || bad "$sample: differs from the reference"
    # shellcheck disable=SC2086
    "$RMENS" prep "$D/$sample.jsonl" --out "$TMP/forced.h5" --format "$fmt" --force --quiet $popts ||
        bad "$sample: prep --format $fmt failed"
    "$PY" -c "
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
def walk(f):
    out = {}
    f.visititems(lambda n, o: out.__setitem__(n, o[:]) if isinstance(o, h5py.Dataset) else None)
    return out
x, y = walk(a), walk(b)
assert x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x), 'auto and forced differ'
" "$out" "$TMP/forced.h5" || bad "$sample: --format $fmt differs from auto"
}

convert summarize summarize_hand -- --expect-pairs 3
convert summarize summarize_real -- --expect-pairs 3
convert ultrafeedback ultrafeedback_hand -- --expect-pairs 2
convert ultrafeedback ultrafeedback_real -- --expect-pairs 2
convert helpsteer2-pref helpsteer2_pref_hand -- --expect-pairs 2 --expect-skip tie=1
convert helpsteer2-pref helpsteer2_pref_real -- --expect-pairs 2
convert helpsteer2 helpsteer2_hand -- --expect-pairs 3 --expect-skip tie=1
convert helpsteer2 helpsteer2_real -- --expect-pairs 2
convert ranking ranking_hand -- --expect-pairs 8 --expect-skip tie=1
convert ranking ranking_ranks -- --expect-pairs 10 --expect-skip tie=1
convert ultrafeedback-raw ultrafeedback_raw -- --expect-pairs 7 --expect-skip tie=2 --expect-skip unrated=1
echo "ok: every format converts as the reference reads it (auto and forced)"

# Hand-worked values (no reference code): margins, weights, sources, sides.
"$PY" - "$TMP" <<'PYEOF' || bad "hand-worked values"
import h5py, numpy as np, sys
T = sys.argv[1]
def col(f, k): return [round(float(x), 6) for x in h5py.File(T + "/" + f + ".h5")[k][:]]
def text(f, side, i):
    h = h5py.File(T + "/" + f + ".h5"); o = h[side + "/offsets"][:]
    return bytes(h[side + "/tokens"][o[i]:o[i + 1] - 1].astype("uint8")).decode()
# summarize: margins are extra.confidence; choice 1 puts summaries[1] first
assert col("summarize_hand", "margin") == [7, 2, 9], col("summarize_hand", "margin")
assert text("summarize_hand", "chosen", 1).endswith("\n\nAssistant: lost keys twice")
assert text("summarize_hand", "chosen", 2).startswith("\n\nHuman: ARTICLE: Rain fell in the city.\n\nTL;DR:")
# ultrafeedback: 9 - 2.5, 7 - 6
assert col("ultrafeedback_hand", "margin") == [6.5, 1], col("ultrafeedback_hand", "margin")
# helpsteer2-pref: -3 -> response_1 by 3; 1 -> response_2 by 1; the 0 is skipped
assert col("helpsteer2_pref_hand", "margin") == [3, 1]
assert text("helpsteer2_pref_hand", "chosen", 0).endswith("Assistant: Apple.")
assert text("helpsteer2_pref_hand", "chosen", 1).endswith("Assistant: Blue, like the sky.")
# helpsteer2, helpfulness: Q1 a=4 b=2 c=2 -> a>b, a>c (b=c tie); Q2 x=2 y=3 -> y>x; Q3 alone
assert col("helpsteer2_hand", "margin") == [2, 2, 1], col("helpsteer2_hand", "margin")
assert col("helpsteer2_hand", "weight") == [0.5, 0.5, 1]
assert col("helpsteer2_hand", "source_record") == [0, 0, 4]
# ranking by scores [3,1,3,2]: A>B 2, (A,C tie), A>D 1, C>B 2, D>B 1, C>D 1, each 1/5;
# [0.5, 2.5, -1]: Hey>Hello 2, Hello>Yo 1.5, Hey>Yo 3.5, each 1/3
assert col("ranking_hand", "margin") == [2, 1, 2, 1, 1, 2, 1.5, 3.5], col("ranking_hand", "margin")
assert col("ranking_hand", "weight") == [0.2] * 5 + [0.333333] * 3
# ranks [2,1,4,3,4]: 9 of 10 pairs (4,4 tie), weight 1/9, no margins; then 1 pair, weight 1
h = h5py.File(T + "/ranking_ranks.h5")
assert "margin" not in h and col("ranking_ranks", "weight") == [0.111111] * 9 + [1]
assert text("ranking_ranks", "chosen", 0).endswith(" second") and text("ranking_ranks", "rejected", 0).endswith(" first")
# ultrafeedback-raw, overall_score: 9,6,2,6 -> 5 pairs (6,6 tie); 8,1,null,8 -> 2 pairs (8,8 tie)
assert col("ultrafeedback_raw", "margin") == [3, 7, 3, 4, 4, 7, 7], col("ultrafeedback_raw", "margin")
assert col("ultrafeedback_raw", "weight") == [0.2] * 5 + [0.5] * 2
print("ok: hand-worked margins, weights, sources and sides")
PYEOF

# --margin-scale multiplies every margin; --helpsteer-weights picks the score;
# --score-field reads the fine-grained mean
"$RMENS" prep "$D/ranking_hand.jsonl" --out "$TMP/scaled.h5" --margin-scale 0.5 --quiet || bad "--margin-scale"
"$PY" "$CHECK" ranking "$D/ranking_hand.jsonl" "$TMP/scaled.h5" --margin-scale 0.5 || bad "--margin-scale 0.5 margins"
"$RMENS" prep "$D/summarize_hand.jsonl" --out "$TMP/scaled2.h5" --margin-scale 0.25 --quiet || bad "--margin-scale (summarize)"
"$PY" "$CHECK" summarize "$D/summarize_hand.jsonl" "$TMP/scaled2.h5" --margin-scale 0.25 || bad "--margin-scale 0.25 margins"
"$RMENS" prep "$D/helpsteer2_hand.jsonl" --out "$TMP/hw.h5" --helpsteer-weights 0.5,1,0,0,-0.25 --quiet ||
    bad "--helpsteer-weights"
"$PY" "$CHECK" helpsteer2 "$D/helpsteer2_hand.jsonl" "$TMP/hw.h5" --helpsteer-weights 0.5,1,0,0,-0.25 ||
    bad "--helpsteer-weights pairs"
"$RMENS" prep "$D/ultrafeedback_raw.jsonl" --out "$TMP/fg.h5" --score-field fine-grained_score --quiet ||
    bad "--score-field fine-grained_score"
"$PY" "$CHECK" ultrafeedback-raw "$D/ultrafeedback_raw.jsonl" "$TMP/fg.h5" --score-field fine-grained_score ||
    bad "--score-field fine-grained_score pairs"
"$RMENS" prep "$D/summarize_hand.jsonl" --out "$TMP/nom.h5" --margin-field none --quiet || bad "--margin-field none"
"$PY" "$CHECK" summarize "$D/summarize_hand.jsonl" "$TMP/nom.h5" --no-margin || bad "--margin-field none: a margin written"
# a validation split keeps a prompt's pairs together (their weights still sum to 1)
"$RMENS" prep "$D/ranking_ranks.jsonl" --out "$TMP/tr.h5" --val-out "$TMP/va.h5" --val-fraction 0.5 --seed 1 --quiet ||
    bad "ranking with --val-out"
"$PY" - "$TMP/tr.h5" "$TMP/va.h5" <<'PYEOF' || bad "ranking split"
import h5py, sys
w = [sorted(round(float(x), 6) for x in h5py.File(p)["weight"][:]) for p in sys.argv[1:]]
assert sorted(w) == sorted([[0.111111] * 9, [1.0]]), w
PYEOF
# the weight reaches rmens info
"$RMENS" info "$TMP/ranking_hand.h5" | grep -q "weight           sum 2 " || bad "info: weight sum"
"$RMENS" info "$TMP/ranking_hand.h5" --show 6 | grep -q "weight: 0.333333" || bad "info --show: weight"
echo "ok: --margin-scale, --helpsteer-weights, --score-field, --margin-field none, splits, info"

# Bad input: the message names the record and field; nothing is written.
refuse() {
    what=$1 want=$2 line=$3
    shift 3
    printf '%s\n' "$line" >"$TMP/bad.jsonl"
    rm -f "$TMP/bad.h5"
    if "$RMENS" prep "$TMP/bad.jsonl" --out "$TMP/bad.h5" "$@" >"$TMP/err" 2>&1; then
        bad "$what: accepted"
    elif ! grep -q -- "$want" "$TMP/err"; then
        bad "$what: message lacks '$want': $(cat "$TMP/err")"
    elif ls "$TMP"/bad.h5* >/dev/null 2>&1; then
        bad "$what: an output file was left"
    else
        echo "ok: refused $what: $(head -n 1 "$TMP/err")"
    fi
}
refuse "summarize without summaries text" 'bad.jsonl:1: summaries\[1\] is not an object with "text"' \
    '{"info": {"post": "p"}, "summaries": [{"text": "a"}, {"txt": "b"}], "choice": 0}'
refuse "summarize choice 2" 'bad.jsonl:1: field "choice" is 2, expected an integer in \[0, 1\]' \
    '{"info": {"post": "p"}, "summaries": [{"text": "a"}, {"text": "b"}], "choice": 2}'
refuse "summarize without post or article" 'field "info" has neither a "post" nor an "article"' \
    '{"info": {"title": "t"}, "summaries": [{"text": "a"}, {"text": "b"}], "choice": 0}'
refuse "summarize post not a string" 'field "info.post" is int, expected a string' \
    '{"info": {"post": 3}, "summaries": [{"text": "a"}, {"text": "b"}], "choice": 0}'
refuse "summarize with three summaries" 'field "summaries" has 3 entries, expected 2' \
    '{"info": {"post": "p"}, "summaries": [{"text": "a"}, {"text": "b"}, {"text": "c"}], "choice": 0}'
refuse "helpsteer2-pref strength 4" 'bad.jsonl:1: field "preference_strength" is 4, expected a number in \[-3, 3\]' \
    '{"prompt": "p", "response_1": "a", "response_2": "b", "preference_strength": 4}'
refuse "helpsteer2-pref strength a string" 'field "preference_strength" is string, expected a number' \
    '{"prompt": "p", "response_1": "a", "response_2": "b", "preference_strength": "2"}'
refuse "helpsteer2-pref without response_2" 'missing field "response_2"' \
    '{"prompt": "p", "response_1": "a", "preference_strength": 1}' --format helpsteer2-pref
refuse "helpsteer2 helpfulness 5" 'bad.jsonl:1: field "helpfulness" is 5, expected an integer in \[0, 4\]' \
    '{"prompt": "p", "response": "a", "helpfulness": 5, "correctness": 1, "coherence": 1, "complexity": 1, "verbosity": 1}'
refuse "helpsteer2 without verbosity" 'bad.jsonl:1: missing field "verbosity"' \
    '{"prompt": "p", "response": "a", "helpfulness": 2, "correctness": 1, "coherence": 1, "complexity": 1}'
refuse "ranking of mismatched length" 'bad.jsonl:1: field "ranking" has 2 entries but "responses" has 3' \
    '{"prompt": "p", "responses": ["a", "b", "c"], "ranking": [1, 2]}'
refuse "ranking rank 0" 'field "ranking"\[1\] is 0, expected an integer in \[1, 3\]' \
    '{"prompt": "p", "responses": ["a", "b", "c"], "ranking": [1, 0, 2]}'
refuse "ranking with both ranking and scores" 'needs exactly one of "ranking" and "scores" (it has both)' \
    '{"prompt": "p", "responses": ["a", "b"], "ranking": [1, 2], "scores": [1, 2]}'
refuse "ranking score not a number" 'field "scores"\[0\] is string, expected a number' \
    '{"prompt": "p", "responses": ["a", "b"], "scores": ["x", 2]}'
refuse "ultrafeedback-raw rating 11" 'field "completions\[1\].overall_score" is 11, expected a number in \[1, 10\]' \
    '{"instruction": "i", "completions": [{"response": "a", "overall_score": 5}, {"response": "b", "overall_score": 11}]}'
refuse "ultrafeedback-raw without response" 'completions\[0\]: missing field "response"' \
    '{"instruction": "i", "completions": [{"overall_score": 5}]}'
refuse "ultrafeedback without scores" 'bad.jsonl:1: missing field "score_chosen"' \
    '{"prompt": "p", "chosen": [{"role": "user", "content": "p"}, {"role": "assistant", "content": "a"}], "rejected": [{"role": "user", "content": "p"}, {"role": "assistant", "content": "b"}]}' \
    --format ultrafeedback
refuse "an ambiguous record" 'ambiguous record: it has the fields of two formats (a chosen/rejected pair: "chosen", "rejected"; ranking: "responses", "scores")' \
    '{"prompt": "p", "chosen": "a", "rejected": "b", "responses": ["a", "b"], "scores": [1, 2]}'
refuse "an unknown shape" 'cannot tell the format' '{"prompt": "p"}'
refuse "--margin-field on a ranking" '--margin-field does not apply to format ranking' \
    '{"prompt": "p", "responses": ["a", "b"], "scores": [1, 2]}' --margin-field m
refuse "a bad --helpsteer-weights" '--helpsteer-weights: expected five numbers' '{}' --helpsteer-weights 1,2
refuse "a negative --margin-scale" '--margin-scale: not a non-negative number' '{}' --margin-scale -1
# a bad record after good ones: still nothing written
cat "$D/ranking_hand.jsonl" >"$TMP/late.jsonl"
echo '{"prompt": "p", "responses": ["a", "b"], "scores": [1]}' >>"$TMP/late.jsonl"
if "$RMENS" prep "$TMP/late.jsonl" --out "$TMP/late.h5" >"$TMP/err" 2>&1 || [ -e "$TMP/late.h5" ]; then
    :
fi
grep -q 'late.jsonl:3: field "scores" has 1 entries but "responses" has 2' "$TMP/err" && [ ! -e "$TMP/late.h5" ] ||
    bad "a bad third record: $(cat "$TMP/err")"
# --skip-bad skips and counts it instead
"$RMENS" prep "$TMP/late.jsonl" --out "$TMP/late.h5" --skip-bad >"$TMP/log" 2>&1 || bad "--skip-bad"
grep -q "malformed record (--skip-bad) *1" "$TMP/log" || bad "--skip-bad count: $(cat "$TMP/log")"

[ "$failures" = 0 ] || fail "$failures check(s) of prep_formats failed"
echo "PASS: prep_formats"
exit 0
