#!/bin/sh
# check_families.sh "FAMILIES" PARITY FD ["FAMILIES" PARITY FD ...]: the op families ctest registers
# (tests/core/CMakeLists.txt, one op_<family>_parity and op_<family>_fd each) must be exactly the
# families the two programs list (`--families`), so that every case runs in exactly one op_ test; and a
# family the programs do not know must be refused (exit status non-zero), not run nothing and pass.
set -u
bad=0
while [ $# -ge 3 ]; do
  want=$(echo $1 | tr ' ;' '\n\n')   # CMake hands the list over with ';' or ' ' between names
  for prog in "$2" "$3"; do
    name=$(basename "$prog")
    got=$("$prog" --families)
    if [ "$got" != "$want" ]; then
      echo "FAIL: $name lists families [$(echo $got)], ctest registers [$(echo $want)]"
      bad=1
    else
      echo "ok   $name: families $(echo $got) (registered as op_<family>_parity and op_<family>_fd)"
    fi
    if [ "$name" = "${name#test_fd}" ]; then args="/nonexistent.h5 no_such_op"; else args="no_such_op"; fi
    if out=$("$prog" $args 2>&1) || ! echo "$out" | grep -q "unknown op family 'no_such_op'"; then
      echo "FAIL: $name does not refuse an unknown family: $out"
      bad=1
    else
      echo "ok   $name: an unknown family is refused"
    fi
  done
  shift 3
done
exit $bad
