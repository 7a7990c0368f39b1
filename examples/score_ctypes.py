#!/usr/bin/python3
"""Scores transcripts with an rmens ensemble from Python through ctypes (no rmens Python
package, no MPI): what an RL loop in Python would do.

  score_ctypes.py LIBRMENS.so ENSEMBLE.h5 [--normalize] < transcripts.txt

Input and output as examples/score_text.c: one transcript a line, "\\n" for newlines."""
import ctypes as C
import sys


class Stats(C.Structure):  # rmens_score_stats in rmens.h
    _fields_ = [(n, C.c_float) for n in ("mean", "min", "max", "var", "std", "uwo")]


def main():
    lib = C.CDLL(sys.argv[1])
    lib.rmens_last_error.restype = C.c_char_p
    lib.rmens_ensemble_open.argtypes = [C.POINTER(C.c_void_p), C.c_char_p]
    lib.rmens_ensemble_members.argtypes = [C.c_void_p]
    lib.rmens_ensemble_score_text.argtypes = [C.c_void_p, C.c_char_p, C.c_size_t, C.c_int, C.c_float,
                                             C.POINTER(C.c_float), C.POINTER(Stats)]
    lib.rmens_ensemble_close.argtypes = [C.c_void_p]
    ens = C.c_void_p()
    if lib.rmens_ensemble_open(C.byref(ens), sys.argv[2].encode()) != 0:
        sys.exit("score_ctypes: " + lib.rmens_last_error().decode())
    K = lib.rmens_ensemble_members(ens)
    normalize = int("--normalize" in sys.argv[3:])
    rewards, stats = (C.c_float * K)(), Stats()
    for line in sys.stdin.buffer:
        text = line.rstrip(b"\n").replace(b"\\n", b"\n")
        if lib.rmens_ensemble_score_text(ens, text, len(text), normalize, 0.5, rewards, C.byref(stats)) != 0:
            sys.exit("score_ctypes: " + lib.rmens_last_error().decode())
        print("mean %.7g std %.7g min %.7g uwo %.7g members %s" % (
            stats.mean, stats.std, stats.min, stats.uwo, " ".join("%.7g" % r for r in rewards)))
    lib.rmens_ensemble_close(ens)


main()
