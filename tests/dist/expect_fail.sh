#!/usr/bin/env bash
# expect_fail.sh MAX_SECONDS REGEX CMD...: runs CMD (an mpirun job that must fail) and passes only if
# it exits non-zero, within MAX_SECONDS, with output matching REGEX (grep -E). For the fault tests:
# the point is that a stalled or killed rank ends the job quickly and says which rank it was.
set -u
max=$1; regex=$2; shift 2
out=$(mktemp)
start=$(date +%s.%N)
timeout -k 5 "$((max + 30))" "$@" >"$out" 2>&1
rc=$?
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')
cat "$out"
echo "expect_fail: exit status $rc after ${elapsed} s (limit ${max} s)"
ok=1
if [ "$rc" -eq 0 ]; then echo "FAIL: the job exited 0; it should have failed"; ok=0; fi
if [ "$rc" -eq 124 ]; then echo "FAIL: the job hung (ended by timeout)"; ok=0; fi
if awk -v e="$elapsed" -v m="$max" 'BEGIN{exit !(e > m)}'; then echo "FAIL: took ${elapsed} s, over ${max} s"; ok=0; fi
if ! grep -Eq "$regex" "$out"; then echo "FAIL: output does not match /$regex/"; ok=0; fi
rm -f "$out"
[ $ok -eq 1 ] && echo "expect_fail: ok" && exit 0
exit 1
