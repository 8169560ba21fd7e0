// par: how ratlip's own loops (elementwise work, per-channel and per-row reductions) share the cores.
// They run on the same OpenMP thread pool as oneDNN's kernels (kern_set_threads sizes both), split
// only over independent outputs: every output element, channel sum or row is computed by one thread
// in the same order as with one thread, so results never depend on the thread count (tests/core/
// test_threads.c checks it bit for bit). Loops smaller than PAR_MIN_WORK values stay on one thread:
// waking the pool costs a few microseconds, more than a small loop.
#pragma once

#define PAR_MIN_WORK 32768
#define PAR_STR_(x) #x
#define PAR_STR(x) PAR_STR_(x)
#ifdef _OPENMP
// Before a for loop: split its iterations over the pool when `work` (values touched) is large enough.
#define PAR_FOR(work) _Pragma(PAR_STR(omp parallel for schedule(static) if ((work) >= PAR_MIN_WORK)))
// The same for two perfectly nested loops (e.g. over n and c).
#define PAR_FOR2(work) _Pragma(PAR_STR(omp parallel for collapse(2) schedule(static) if ((work) >= PAR_MIN_WORK)))
// An elementwise loop: split over the pool and vectorise each thread's share.
#define PAR_FOR_SIMD(work) _Pragma(PAR_STR(omp parallel for simd schedule(static) if ((work) >= PAR_MIN_WORK)))
#define SIMD _Pragma("omp simd")
#else
#define PAR_FOR(work)
#define PAR_FOR2(work)
#define PAR_FOR_SIMD(work)
#define SIMD
#endif
