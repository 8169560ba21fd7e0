#!/usr/bin/env bash
# Installs the Debian packages that ratlip's build, demo and tests need. Idempotent: packages already
# present are skipped, so a second run costs one dpkg query.
set -euo pipefail
pkgs=(build-essential cmake pkg-config
      libopenmpi-dev openmpi-bin
      libhdf5-dev hdf5-tools
      libopenblas-dev liblapacke-dev libdnnl-dev
      libpng-dev libjpeg-dev libcjson-dev
      python3-torch python3-h5py python3-numpy python3-scipy
      # libFuzzer targets (tests/fuzz, label fuzz): clang and its fuzzer/sanitizer runtimes
      clang-14 libclang-rt-14-dev
      # Slurm tests (tests/slurm) and metric plots (analysis/plot_metrics.py)
      munge slurmctld slurmd slurm-client libpmix-dev python3-matplotlib)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
