#!/bin/sh
# Nothing lost, nothing silently wrong: a bit flipped in a checkpoint's weights, Adam
# moments or bootstrap counts is refused by score, eval, train --resume and merge, on
# every rank, naming the member and the tensor; a flip outside the data fails clearly or
# changes nothing; a NaN in the weights (injected with RMENS_FAULT_NAN) stops the run on
# every rank and is never saved, the previous checkpoint stays byte for byte and resuming
# from it gives the uninterrupted result; checkpoints without checksums still load.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/lib.sh"
need_faults
need_python h5py
CMP="$PY $top_srcdir/tests/compare_ckpt.py"
export RMENS_FAULT_NAN=  # set per run below

"$RMENS" synth --n 300 --seed 5 --out "$TMP/train.h5" --quiet || fail "synth"
"$RMENS" synth --n 100 --seed 6 --split test --out "$TMP/val.h5" --quiet || fail "synth"
BASE="--data $TMP/train.h5 --val $TMP/val.h5 --layers 1 --heads 2 --embd 16 --ctx 64 --batch 8 --warmup 4 \
    --eval-every 10 --quiet"
RUN="$BASE --members 3 --steps 40"

# Runs rmens on NP ranks under a timeout; each rank writes its exit status to $TMP/rc.R
# (the wrapper itself exits 0, so mpiexec kills no rank that is still finishing; stdin is
# not mpiexec's to forward).
ranks() {
    np=$1; shift
    rm -f "$TMP"/rc.*
    timeout 60 "$MPIEXEC" -n "$np" --oversubscribe -x RMENS_FAULT_NAN sh -c \
        '"$0" "$@"; echo $? >"'"$TMP"'/rc.${OMPI_COMM_WORLD_RANK:-0}"' "$RMENS" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
    n=0
    for r in $(seq 0 $((np - 1))); do
        [ -s "$TMP/rc.$r" ] || { cat "$TMP/err"; fail "rank $r did not finish (crashed, killed, or over 60 s): $*"; }
        [ "$(cat "$TMP/rc.$r")" = 0 ] || n=$((n + 1))
    done
    [ $n = 0 ] && return 0
    [ $n = "$np" ] || { cat "$TMP/err"; fail "$n of $np ranks failed (all or none must): $*"; }
    return 1
}
ok_ranks() { np=$1; shift; ranks "$np" "$@" || { cat "$TMP/err"; fail "failed: $*"; }; }
# expect_fail NP PATTERN ARGS...: every rank exits non-zero and rank 0 says PATTERN once.
expect_fail() {
    np=$1 pat=$2; shift 2
    ranks "$np" "$@" && fail "succeeded: $*"
    c=$(grep -cF -- "$pat" "$TMP/err")
    [ "$c" = 1 ] || { cat "$TMP/err"; fail "'$pat' printed $c times: $*"; }
    echo "ok: $np ranks refuse: $(grep -F -- "$pat" "$TMP/err" | cut -c1-150)"
}
no_tmp() { ! ls "$TMP" | grep -q "\.tmp\." || fail "a temporary file was left behind: $(ls "$TMP" | grep "\.tmp\.")"; }
# flip SRC DST DATASET BYTE BIT: DST is SRC with one bit of DATASET's BYTE-th byte flipped.
flip() {
    "$PY" - "$@" <<'PYEOF' || fail "flip $*"
import shutil, sys, h5py
src, dst, name, at, bit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
shutil.copy(src, dst)
with h5py.File(dst, "r") as f:
    d = f[name]
    assert d.chunks is None and 0 <= at < d.id.get_storage_size()
    off = d.id.get_offset() + at
with open(dst, "r+b") as g:
    g.seek(off)
    b = g.read(1)[0]
    g.seek(off)
    g.write(bytes([b ^ (1 << bit)]))
PYEOF
}

# 1. the uninterrupted run; every dataset's crc32 is zlib's CRC-32 of its little-endian
#    values (the definition in docs/FORMAT.md, checked with h5py alone).
ok_ranks 2 train $RUN --out "$TMP/whole.h5"
"$PY" - "$TMP/whole.h5" <<'PYEOF' || fail "crc32 attributes"
import sys, zlib, h5py, numpy as np
n = 0
with h5py.File(sys.argv[1], "r") as f:
    for k in f["members"]:
        g = f["members"][k]
        assert g.attrs["checksum"] == "crc32", k
        def check(name, d):
            global n
            if isinstance(d, h5py.Dataset):
                le = d[...].astype("<i4" if d.dtype.kind == "i" else "<f4")
                assert int(d.attrs["crc32"]) == zlib.crc32(le.tobytes()), (k, name)
                n += 1
        g.visititems(check)
print("ok: %d datasets carry their CRC-32" % n)
PYEOF
"$RMENS" info "$TMP/whole.h5" | grep -q "checksums        CRC-32 of every dataset" || fail "info: checksums"

# 2. NaN after step 25 of member 1 (in the score head, which every reward reads): step 26
#    stops on every rank naming member, step and tensor; the metrics end with an error row;
#    the checkpoint of step 20 is kept.
RMENS_FAULT_NAN=1:25
expect_fail 2 "member 1, step 26: non-finite reward" train $RUN --save-every 10 --out "$TMP/ens.h5" \
    --metrics "$TMP/m.jsonl"
grep -q "params/score.weight holds a non-finite value (nan" "$TMP/err" || { cat "$TMP/err"; fail "no tensor named"; }
"$PY" - "$TMP/m.jsonl" <<'PYEOF' || fail "metrics after a NaN"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows[-1]["type"] == "error" and rows[-1]["step"] == 25, rows[-1]
assert rows[-1]["error"] == "non-finite value" and "member 1, step 26" in rows[-1]["message"], rows[-1]
assert [r["step"] for r in rows if r["type"] == "train"] == list(range(1, 26))
PYEOF
step=$("$PY" -c "import h5py; print(h5py.File('$TMP/ens.h5').attrs['step'])")
[ "$step" = 20 ] || fail "after a NaN in step 25 the checkpoint is at step $step, want 20"
no_tmp
cp "$TMP/ens.h5" "$TMP/s20.h5"

# 3. a NaN no forward pass reads (flat parameter 0: the embedding of byte 0, absent from
#    the data) after step 23: the save of step 30 refuses it and leaves step 20 intact.
RMENS_FAULT_NAN=1:23:0
expect_fail 2 "member 1, step 30: /members/001/params/transformer.wte.weight holds a non-finite value" \
    train $RUN --save-every 10 --out "$TMP/ens.h5" --resume
grep -q "(nan at flat index 0): not saving .*ens.h5 (the checkpoint there is left as it was)" "$TMP/err" || { cat "$TMP/err"; fail "save guard message"; }
cmp -s "$TMP/ens.h5" "$TMP/s20.h5" || fail "a refused save changed the previous checkpoint"
no_tmp

# 4. a data-parallel member (K = 2 on 4 ranks): both ranks of member 1 see the NaN; all four
#    stop together.
RMENS_FAULT_NAN=1:5
expect_fail 4 "member 1, step 6: non-finite reward" train $BASE --members 2 --steps 12 --out "$TMP/dp.h5"
[ ! -e "$TMP/dp.h5" ] || fail "a failed run wrote its output"

# 5. a NaN in the last step, after which only the final evaluation (no check) runs before
#    the final save: the save refuses it. First a good checkpoint of step 30 (the run then
#    stops at a NaN after step 35).
RMENS_FAULT_NAN=2:35
expect_fail 2 "member 2, step 36: non-finite reward" train $RUN --save-every 10 --out "$TMP/ens.h5" --resume
cp "$TMP/ens.h5" "$TMP/s30.h5"
RMENS_FAULT_NAN=0:40
expect_fail 2 "member 0, step 40: /members/000/params/score.weight holds a non-finite value" \
    train $RUN --save-every 10 --out "$TMP/ens.h5" --resume
cmp -s "$TMP/ens.h5" "$TMP/s30.h5" || fail "the refused final save changed the previous checkpoint"
no_tmp
RMENS_FAULT_NAN=
ok_ranks 2 train $RUN --save-every 10 --out "$TMP/ens.h5" --resume
$CMP "$TMP/whole.h5" "$TMP/ens.h5" || fail "resumed after refused NaN saves: differs from the uninterrupted run"
echo "ok: NaN at steps 25, 23 (unread), 35 and 40 never saved; resumed bit-identically"

# 6. one bit flipped in member 1's weights (checkpoint of step 20 of 40): score, eval and
#    train --resume refuse it on every rank, promptly, writing nothing.
MSG="bad.h5: member 1: /members/001/params/transformer.h.0.attn.c_attn.weight: checksum mismatch (stored 0x"
flip "$TMP/s20.h5" "$TMP/bad.h5" /members/001/params/transformer.h.0.attn.c_attn.weight 1001 3
expect_fail 2 "$MSG" score --ckpt "$TMP/bad.h5" --data "$TMP/val.h5" --out "$TMP/x.h5"
expect_fail 2 "$MSG" eval --ckpt "$TMP/bad.h5" --data "$TMP/val.h5" --json "$TMP/x.json"
expect_fail 2 "$MSG" train $RUN --save-every 10 --out "$TMP/bad.h5" --resume
grep -q "the file is corrupted" "$TMP/err" || fail "the message does not say the file is corrupted"
[ ! -e "$TMP/x.h5" ] && [ ! -e "$TMP/x.json" ] || fail "a refused checkpoint produced output"
cp "$TMP/s20.h5" "$TMP/good.h5"
flip "$TMP/s20.h5" "$TMP/bad2.h5" /members/001/params/transformer.h.0.attn.c_attn.weight 1001 3
cmp -s "$TMP/bad.h5" "$TMP/bad2.h5" || fail "a refused resume changed the checkpoint"
no_tmp

# 7. ... in an Adam moment or the bootstrap counts: --resume refuses; scoring, which reads
#    only the weights, is unaffected.
ok_ranks 2 score --ckpt "$TMP/s20.h5" --data "$TMP/val.h5" --out "$TMP/ref.h5" --per-member
for ds in optimizer/m/transformer.wpe.weight optimizer/v/score.weight bootstrap_counts; do
    flip "$TMP/s20.h5" "$TMP/bad.h5" "/members/001/$ds" 13 6
    expect_fail 2 "bad.h5: member 1: /members/001/$ds: checksum mismatch" \
        train $RUN --save-every 10 --out "$TMP/bad.h5" --resume
done
ok_ranks 2 score --ckpt "$TMP/bad.h5" --data "$TMP/val.h5" --out "$TMP/s.h5" --per-member
"$PY" -c "
import sys, h5py, numpy as np
a, b = h5py.File('$TMP/ref.h5'), h5py.File('$TMP/s.h5')
sys.exit(0 if all(np.array_equal(a[s + '/rewards'][:], b[s + '/rewards'][:]) for s in ('chosen', 'rejected')) else 1)" \
    || fail "damaged counts changed the scores"

# 8. job-array parts: merge refuses a damaged part (naming its member, 1, though the part
#    stores it as /members/000) and writes nothing; a good merge keeps the checksums.
for k in 0 1 2; do
    ok_ranks 1 train $RUN --member $k --out "$TMP/part$k.h5"
done
flip "$TMP/part1.h5" "$TMP/badpart.h5" /members/000/params/transformer.ln_f.weight 7 0
expect_fail 1 "badpart.h5: member 1: /members/000/params/transformer.ln_f.weight: checksum mismatch" \
    merge --out "$TMP/x.h5" "$TMP/part0.h5" "$TMP/badpart.h5" "$TMP/part2.h5"
[ ! -e "$TMP/x.h5" ] || fail "a refused merge wrote its output"
no_tmp
ok_ranks 1 merge --out "$TMP/merged.h5" "$TMP/part2.h5" "$TMP/part0.h5" "$TMP/part1.h5"
$CMP "$TMP/whole.h5" "$TMP/merged.h5" || fail "merged parts differ from the MPI run"
"$RMENS" info "$TMP/merged.h5" | grep -q "checksums        CRC-32 of every dataset" || fail "merge lost the checksums"

# 9. a member extracted as a model file keeps its crc32 attributes: rmens (info, --init)
#    and tools/hf_to_rmens.py to-hf verify them.
"$PY" - "$TMP/whole.h5" "$TMP/member.h5" <<'PYEOF' || fail "extracting a member"
import sys, h5py
with h5py.File(sys.argv[1], "r") as e, h5py.File(sys.argv[2], "w") as m:
    m.attrs["rmens_format"] = "model"
    m.attrs["rmens_version"] = 1
    for k in ("vocab_size", "n_ctx", "n_layer", "n_head", "n_embd"):
        m.attrs[k] = e.attrs[k]
    e.copy("members/001/params", m, "params")
PYEOF
"$RMENS" info "$TMP/member.h5" >/dev/null || fail "info on an extracted member"
flip "$TMP/member.h5" "$TMP/badmember.h5" /params/transformer.wpe.weight 222 1
expect_fail 1 "badmember.h5: /params/transformer.wpe.weight: checksum mismatch" info "$TMP/badmember.h5"
expect_fail 1 "badmember.h5: /params/transformer.wpe.weight: checksum mismatch" \
    train $RUN --init "$TMP/badmember.h5" --out "$TMP/x.h5"
"$PY" "$top_srcdir/tools/hf_to_rmens.py" to-hf "$TMP/badmember.h5" "$TMP/hf" >"$TMP/out" 2>"$TMP/err" \
    && fail "to-hf converted a corrupted model"
grep -q "/params/transformer.wpe.weight: checksum mismatch" "$TMP/err" || { cat "$TMP/err"; fail "to-hf: no checksum message"; }
[ ! -e "$TMP/hf" ] || fail "to-hf wrote output from a corrupted model"
echo "ok: an extracted member is verified by rmens and hf_to_rmens.py"

# 10. bits flipped outside every dataset (HDF5 metadata, unused space): each load either
#     fails clearly (exit 1 or 2, one message, no output) or scores exactly as before.
#     8 bytes drawn from everything that is not data, and 4 chosen in the object header
#     of member 1's score.weight: its storage size, data address, crc32 attribute message
#     and crc32 value. (Not every header bit fails this cleanly: HDF5 keeps no checksum of
#     this format's object headers, and a flipped message flag can crash HDF5 1.10 itself.)
"$PY" - "$TMP/s20.h5" <<'PYEOF' >"$TMP/spots" || fail "choosing non-data bytes"
import os, random, sys, h5py
ext = []
with h5py.File(sys.argv[1], "r") as f:
    f.visititems(lambda n, o: ext.append((o.id.get_offset(), o.id.get_storage_size()))
                 if isinstance(o, h5py.Dataset) else None)
    head = h5py.h5o.get_info(f["members/001/params/score.weight"].id).addr
data = set()
for off, n in ext:
    data.update(range(off, off + n))
free = [i for i in range(os.path.getsize(sys.argv[1])) if i not in data]
rng = random.Random(7)
spots = [(rng.choice(free), rng.randrange(8)) for _ in range(8)] + [(head + d, 0) for d in (121, 125, 160, 208)]
for at, bit in spots:
    assert at not in data
    print(at, bit)
PYEOF
fails=0 same=0
while read -r at bit; do
    "$PY" -c "
import shutil; shutil.copy('$TMP/s20.h5', '$TMP/meta.h5')
with open('$TMP/meta.h5', 'r+b') as g:
    g.seek($at); b = g.read(1)[0]; g.seek($at); g.write(bytes([b ^ (1 << $bit)]))"
    rm -f "$TMP/s.h5"
    if ranks 2 score --ckpt "$TMP/meta.h5" --data "$TMP/val.h5" --out "$TMP/s.h5" --per-member; then
        "$PY" -c "
import sys, h5py, numpy as np
a, b = h5py.File('$TMP/ref.h5'), h5py.File('$TMP/s.h5')
sys.exit(0 if all(np.array_equal(a[s + '/rewards'][:], b[s + '/rewards'][:]) for s in ('chosen', 'rejected')) else 1)" \
            || fail "byte $at bit $bit (not data) changed the scores silently"
        same=$((same + 1))
    else
        for r in 0 1; do
            c=$(cat "$TMP/rc.$r")
            [ "$c" = 1 ] || [ "$c" = 2 ] || { cat "$TMP/err"; fail "byte $at bit $bit: rank $r exited $c, not 1 or 2"; }
        done
        [ "$(grep -c "^rmens score: error: " "$TMP/err")" = 1 ] || { cat "$TMP/err"; fail "byte $at bit $bit: no clear message"; }
        [ ! -e "$TMP/s.h5" ] || fail "byte $at bit $bit: a refused checkpoint produced output"
        fails=$((fails + 1))
    fi
done <"$TMP/spots"
echo "ok: 12 bits flipped outside the data: $same load identically, $fails fail clearly"

# 11. checkpoints written before checksums (crc32 and checksum attributes deleted with h5py)
#     still load, unverified: the same scores, and --resume finishes bit-identically (the
#     new saves carry checksums again).
"$PY" - "$TMP/s20.h5" "$TMP/old.h5" <<'PYEOF' || fail "making an old checkpoint"
import shutil, sys, h5py
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "a") as f:
    for k in f["members"]:
        g = f["members"][k]
        del g.attrs["checksum"]
        g.visititems(lambda n, o: o.attrs.__delitem__("crc32") if isinstance(o, h5py.Dataset) else None)
PYEOF
"$RMENS" info "$TMP/old.h5" | grep -q "checksums        none for members 0, 1, 2 (written by an older rmens): weights unverified" \
    || fail "info on an old checkpoint"
rm -f "$TMP/s.h5"
ok_ranks 2 score --ckpt "$TMP/old.h5" --data "$TMP/val.h5" --out "$TMP/s.h5" --per-member
"$PY" -c "
import sys, h5py, numpy as np
a, b = h5py.File('$TMP/ref.h5'), h5py.File('$TMP/s.h5')
sys.exit(0 if all(np.array_equal(a[s + '/rewards'][:], b[s + '/rewards'][:]) for s in ('chosen', 'rejected')) else 1)" \
    || fail "an old checkpoint scores differently"
ok_ranks 2 train $RUN --save-every 10 --out "$TMP/old.h5" --resume
$CMP "$TMP/whole.h5" "$TMP/old.h5" || fail "resumed from an old checkpoint: differs from the uninterrupted run"
"$RMENS" info "$TMP/old.h5" | grep -q "checksums        CRC-32 of every dataset" || fail "resumed save has no checksums"
# ... but a member that declares checksums and lacks one is damaged, not old.
"$PY" -c "
import shutil, h5py
shutil.copy('$TMP/s20.h5', '$TMP/bad.h5')
with h5py.File('$TMP/bad.h5', 'a') as f:
    del f['members/002/params/score.weight'].attrs['crc32']"
expect_fail 2 "bad.h5: member 2: /members/002/params/score.weight has no crc32 attribute" \
    score --ckpt "$TMP/bad.h5" --data "$TMP/val.h5" --out "$TMP/x.h5"
echo "ok: old checkpoints load unverified and resume bit-identically"
no_tmp
echo "integrity: all passed"
