#!/usr/bin/env bash
# tests/kernel_case.sh CASE COMMAND [ARGS...]: runs COMMAND under one configuration of the kernel matrix
# (ctest label `kernels`, see tests/CMakeLists.txt). The only place in the suite that sets
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, and only for the case that names them; the other cases keep
# whatever the environment has. Exit 77 (ctest: skipped) where the CPU cannot run the case.
#   haswell      OpenBLAS Haswell kernels with OPENBLAS_L2_SIZE=512 (what the AMD EPYC Zen 5 machines preset;
#                ratlip then runs its GEMMs on oneDNN's sgemm, as it does there: core/kernels.h)
#   skylakex     OpenBLAS SkylakeX (AVX-512) kernels                 (CPUs with avx512f)
#   openblas     RATLIP_KERNELS=openblas: every convolution as im2col + SGEMM, no oneDNN
#   onednn_avx2  oneDNN limited to AVX2 (ONEDNN_MAX_CPU_ISA=AVX2; also DNNL_MAX_CPU_ISA for oneDNN 2.x)
set -euo pipefail
case_name=${1:?usage: kernel_case.sh CASE COMMAND...}
shift
has() { grep -qw "$1" /proc/cpuinfo; }
case "$case_name" in
  haswell)
    has avx2 || { echo "SKIP: OpenBLAS Haswell kernels need AVX2, this CPU has none"; exit 77; }
    export OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512 ;;
  skylakex)
    has avx512f || { echo "SKIP: OpenBLAS SkylakeX kernels need AVX-512, this CPU has none"; exit 77; }
    export OPENBLAS_CORETYPE=SkylakeX ;;
  openblas)
    export RATLIP_KERNELS=openblas ;;
  onednn_avx2)
    has avx2 || { echo "SKIP: this CPU has no AVX2"; exit 77; }
    export ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2 ;;
  *)
    echo "kernel_case.sh: unknown case '$case_name' (haswell, skylakex, openblas, onednn_avx2)" >&2
    exit 2 ;;
esac
echo "kernel case $case_name: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}" \
     "RATLIP_KERNELS=${RATLIP_KERNELS:-unset} ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-unset}"
exec "$@"
