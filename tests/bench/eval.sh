#!/bin/sh
# eval.sh BUILD_DIR [batch 4] [threads 2]: Inception-v3 FID-network images/s, C vs PyTorch, same threads,
# same run (64x64 input resized to 299, seeded weights). Prints both and the ratio C / PyTorch.
set -eu
BUILD=$1; B=${2:-4}; T=${3:-2}
HERE=$(dirname "$0")
. "$HERE/cpu.sh"
bench_cpu_line torch
c=$(OMP_NUM_THREADS=$T "$BUILD/tests/bench/bench_eval" "$B" "$T" 64 3)
p=$(OMP_NUM_THREADS=$T /usr/bin/python3 "$HERE/../reference/inception_ref.py" --bench --batch "$B" --threads "$T" --size 64)
echo "$c"
echo "$p"
echo "$c" "$p" | awk '{for(i=1;i<=NF;i++) if($i=="images/s"){v[++n]=$(i+1)}} END {printf "ratio C/PyTorch %.2f\n", v[1]/v[2]}'
