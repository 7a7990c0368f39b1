#!/bin/sh
# Installs every Debian 12 package rmens needs to build, test and run (as root, or
# through sudo). Used by the README quick start and by .ci/run.
set -eu
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
PACKAGES="
  build-essential autoconf automake libtool pkg-config
  openmpi-bin libopenmpi-dev
  libhdf5-openmpi-dev hdf5-tools
  libopenblas-dev
  check
  libjson-c-dev zlib1g-dev
  libpcre2-dev libicu-dev nettle-dev
  python3 python3-numpy python3-h5py python3-torch python3-matplotlib
  procps
  clang llvm libclang-rt-14-dev valgrind git
  slurm-wlm munge libpmix-dev
"
# Node.js and npm for the tokenizer test references (tools/install-test-fixtures.sh);
# a machine with NodeSource's nodejs already has npm, which Debian's npm conflicts with.
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"
# rmens serve: its HTTP server, and the load generator of its benchmark.
PACKAGES="$PACKAGES libmicrohttpd-dev wrk"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $PACKAGES
