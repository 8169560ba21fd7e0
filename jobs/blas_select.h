// blas_select: which OpenBLAS core the program computes with, decided before anything else runs.
//   blas_select_fast_kernel   Debian's OpenBLAS 0.3.21 falls back to slow Prescott kernels on CPUs it
//                             does not know: pick SkylakeX/Haswell and re-exec (never overriding a
//                             value the user or the environment set)
//   blas_check_forced_core    OPENBLAS_CORETYPE set by the environment to a slower core than the CPU
//                             supports: kept, but timed against the fast one (in child processes) and
//                             said once under the banner
//   blas_bench                `ratlip --bench-blas [N] [seconds]` (hidden): SGEMM GFLOP/s per core
//   blas_probe_child          the child side of those timings (RATLIP_GEMM_PROBE set)
#pragma once

void blas_select_fast_kernel(char **argv);
void blas_check_forced_core(void);
int blas_bench(int argc, char **argv);
int blas_probe_child(void);
// The note blas_check_forced_core left ("" when none); empty after the first call.
const char *blas_take_note(void);
