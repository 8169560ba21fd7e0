#!/usr/bin/env bash
# verify_hdf5crash.sh RATLIP WORKDIR: a shard whose HDF5 metadata crashes libhdf5 1.10.8 itself (a
# fuzz_shard find, tests/fuzz) must end `ratlip data verify` with exit 1 and a message naming the shard,
# not a segfault. The message says "crashed libhdf5" only when the checking child really died of a signal.
set -uo pipefail
ratlip=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work"
cp "$here/data/libhdf5-crash-shard.h5" "$work/train-00000-of-00001.h5"
# under ASan its own SEGV handler would turn the crash into an exit 1: let the child die of the signal
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0"
out=$("$ratlip" data verify "$work" 2>&1)
rc=$?
echo "exit $rc: $out"
[ $rc -eq 1 ] || { echo "FAIL: exit $rc, expected 1"; exit 1; }
case "$out" in
  *"$work/train-00000-of-00001.h5: reading it crashed libhdf5 (signal"*) ;;
  *) echo "FAIL: no message naming the shard and the libhdf5 crash (was libhdf5 fixed? then replace the file with a current crasher)"; exit 1 ;;
esac
echo ok
