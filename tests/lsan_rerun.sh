#!/bin/bash
# .ci/lsan-rerun.sh judged on made-up test results (automake .trs/.log pairs) with a
# stand-in for make that writes the next result of each test from a script: a tracer
# crash alone is rerun per test and forgiven once the test passes; a real sanitizer
# report, another failure beside it, or the crash on every run fails; reruns are bounded.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
CRASH='Tracer caught signal 11: addr=0x0 pc=0x4f5e1a sp=0x7f0a2c3fed10
==4242==LeakSanitizer has encountered a fatal error.
==4242==HINT: For debugging, try setting environment variable LSAN_OPTIONS=verbosity=1:log_threads=1'
REPORT='==4242==ERROR: LeakSanitizer: detected memory leaks
SUMMARY: AddressSanitizer: 64 byte(s) leaked in 1 allocation(s).'
# result DIR TEST pass|crash|report|fail: writes the test's .trs and .log
result() {
    local f=$1/tests/$2
    case $3 in
        pass) printf ':test-result: PASS\n' >"$f.trs"; echo ok >"$f.log" ;;
        crash) printf ':test-result: FAIL\n' >"$f.trs"; echo "$CRASH" >"$f.log" ;;
        report) printf ':test-result: FAIL\n' >"$f.trs"; printf '%s\n%s\n' "$REPORT" "$CRASH" >"$f.log" ;;
        fail) printf ':test-result: FAIL\n' >"$f.trs"; echo "FAIL: wrong value" >"$f.log" ;;
    esac
}
# The stand-in for make: TESTS=t -> the next planned result of t (plan/t: one per line).
cat >"$TMP/fakemake" <<'SH'
#!/bin/bash
t=${1#TESTS=}; t=${t#tests/}
echo "$t" >>rerun.log
next=$(head -n 1 "plan/$t"); sed -i 1d "plan/$t"
. ./result.sh; result . "$t" "${next:-crash}"
SH
chmod +x "$TMP/fakemake"
declare -f result >"$TMP/result.sh"
echo "CRASH='$CRASH'; REPORT='$REPORT'" >>"$TMP/result.sh"
# case NAME EXPECTED_EXIT RERUNS "test=first_result:rerun1,rerun2 ..."
case_() {
    local name=$1 want=$2 reruns=$3 d=$TMP/$1 spec t res plan rc
    mkdir -p "$d/tests" "$d/plan"
    cp "$TMP/result.sh" "$d/"
    for spec in $4; do
        t=${spec%%=*}; res=${spec#*=}; plan=${res#*:}
        result "$d" "$t" "${res%%:*}"
        [ "$plan" != "$res" ] && tr , '\n' <<<"$plan" >"$d/plan/$t" || : >"$d/plan/$t"
    done
    rc=0
    (cd "$d" && RERUN="$TMP/fakemake" bash "$top_srcdir/.ci/lsan-rerun.sh" 2 >out 2>&1) || rc=$?
    [ "$rc" = "$want" ] || { cat "$d/out"; fail "$name: exit $rc, expected $want"; }
    local n; n=$(cat "$d/rerun.log" 2>/dev/null | wc -l)
    [ "$n" = "$reruns" ] || { cat "$d/out"; fail "$name: $n reruns, expected $reruns"; }
    echo "ok: $name (exit $rc, $n reruns)"
}
case_ "all passed" 0 0 "a.sh=pass b.sh=pass"
case_ "one tracer crash, passes on the rerun" 0 1 "a.sh=pass b.sh=crash:pass"
case_ "two tracer crashes, each rerun alone" 0 3 "a.sh=crash:pass b.sh=crash:crash,pass c.sh=pass"
case_ "a tracer crash beside a real failure" 1 0 "a.sh=crash:pass b.sh=fail"
case_ "a leak report with the tracer crash" 1 0 "a.sh=report:pass"
case_ "the crash on every run (bounded)" 1 2 "a.sh=crash:crash,crash,crash,crash"
case_ "a rerun that reports" 1 1 "a.sh=crash:report"
echo "lsan_rerun: all passed"
