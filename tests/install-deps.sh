#!/usr/bin/env bash
# Installs the Debian packages ratlip needs. Idempotent: packages already present are skipped, so a
# second run costs one dpkg query per package.
#   tests/install-deps.sh [all]   everything: the build, the demo and every test (tests/run.sh)
#   tests/install-deps.sh demo    only building ratlip and running jobs/demo.sh (no PyTorch, Slurm, clang)
set -euo pipefail
mode=${1:-all}

# What the build links (CMakeLists.txt: MPI, HDF5, OpenBLAS for CBLAS and LAPACK, libpng, libjpeg, cJSON
# through pkg-config; oneDNN for the convolutions, optional there but the demo's speed depends on it; OpenMP
# comes with gcc) and what the demo runs (mpirun).
build=(build-essential cmake pkg-config
       libopenmpi-dev openmpi-bin
       libhdf5-dev
       libopenblas-dev libdnnl-dev
       libpng-dev libjpeg-dev libcjson-dev)
# What only the tests and the analysis tools need.
tests=(hdf5-tools
       liblapacke-dev   # not used by the build (core/fid.c calls OpenBLAS's Fortran LAPACK); kept as before
       # the PyTorch reference (parity tests, tests/reference) and the Python converters
       python3-torch python3-h5py python3-numpy python3-scipy
       # libFuzzer targets (tests/fuzz, label fuzz): clang and its fuzzer/sanitizer runtimes
       clang-14 libclang-rt-14-dev
       # Slurm tests (tests/slurm) and metric plots (analysis/plot_metrics.py)
       munge slurmctld slurmd slurm-client libpmix-dev python3-matplotlib
       # the multi-node harness (tests/cluster: network namespaces, a UTS namespace per node)
       iproute2 util-linux)
case $mode in
  demo) pkgs=("${build[@]}") ;;
  all) pkgs=("${build[@]}" "${tests[@]}") ;;
  *) echo "usage: tests/install-deps.sh [all|demo] (got '$mode')" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps ($mode): all ${#pkgs[@]} packages present"
  exit 0
fi
echo "install-deps ($mode): installing ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
