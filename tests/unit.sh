#!/bin/sh
# The serial Check unit tests.
: "${top_builddir:=$(pwd)}"
exec "$top_builddir/tests/test_unit"
