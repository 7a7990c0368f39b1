#!/bin/sh
# The tokenizer unit tests (tests/test_text.c): hand-worked cases, malformed files.
: "${top_builddir:=$(pwd)}"
exec "$top_builddir/tests/test_text"
