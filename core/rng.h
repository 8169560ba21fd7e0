// rng: a counter-based generator (Philox4x32-10). Every random number is a pure function of
// (key, counter), with the key derived from (seed, purpose) and the counter from (step, global sample
// index, element). Nothing depends on call order, so resumed runs and different rank counts draw the
// same numbers for the same sample.
#pragma once
#include <stddef.h>
#include "core/real.h"
#include <stdint.h>

// Purposes: one key stream each.
enum { RNG_INIT = 1, RNG_NOISE = 2, RNG_DATA_ORDER = 3, RNG_CAPTION = 4, RNG_AUGMENT = 5, RNG_SYNTH = 6,
       RNG_EVAL = 7, RNG_SAMPLE = 8, RNG_CLIP = 9,
       RNG_PROBE = 10 /* attribute probe: init, data order (core/probe.h, io/probe_file.h) */,
       RNG_CAPTION_BANK = 11 /* io/capbank.h: the order a caption bank draws its captions in */,
       RNG_MISMATCH = 12 /* train.hard_mismatch: which samples get a hard mismatched caption, which label */ };

typedef struct { uint32_t k[2]; } RngKey;

RngKey rng_key(uint64_t seed, uint32_t purpose);
// Four 32-bit words for counter (c_hi, c_lo): the 128-bit counter is (c_hi, c_lo) as two u64.
void rng_block(RngKey key, uint64_t c_hi, uint64_t c_lo, uint32_t out[4]);
// Convenience: one uniform in [0,1) / one standard normal for counter (c_hi, c_lo).
real rng_uniform(RngKey key, uint64_t c_hi, uint64_t c_lo);
real rng_normal(RngKey key, uint64_t c_hi, uint64_t c_lo);
uint32_t rng_u32(RngKey key, uint64_t c_hi, uint64_t c_lo);
// Fill arrays: element i uses counter (c_hi, c_lo_base + i/ (per block)) — deterministic, order-free.
void rng_fill_uniform(real *out, size_t n, real lo, real hi, RngKey key, uint64_t c_hi);
void rng_fill_normal(real *out, size_t n, real mean, real std, RngKey key, uint64_t c_hi);
