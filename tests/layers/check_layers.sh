#!/usr/bin/env bash
# check_layers.sh SOURCE_DIR: the dependency rule of DESIGN.md, enforced. Dependencies flow
# jobs -> dist, io -> core: core/ includes none of io/ dist/ jobs/ nor MPI or HDF5; io/ includes
# neither dist/ jobs/ nor MPI; dist/ does not include jobs/. Prints every offending line; exit 1 if any.
set -uo pipefail
src=${1:?usage: check_layers.sh SOURCE_DIR}
bad=0
# check DIR REGEX WHY: lines of DIR/*.c|h whose #include matches REGEX are violations
check() {
  local dir=$1 re=$2 why=$3 hits
  hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($re)" "$src/$dir"/*.c "$src/$dir"/*.h 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "layer violation ($why):"
    echo "$hits" | sed "s|^$src/|  |"
    bad=1
  fi
}
check core 'io/|dist/|jobs/|analysis/|mpi\.h|hdf5\.h|H5|png\.h|jpeglib\.h|cjson/' "core/ is math only: no files, no MPI"
check io 'dist/|jobs/|analysis/|mpi\.h' "io/ knows nothing of MPI or the commands"
check dist 'jobs/|analysis/' "dist/ does not depend on the commands"
if [ $bad -eq 0 ]; then echo "layers ok: core -> nothing, io -> core, dist -> io + core, jobs -> all"; fi
exit $bad
