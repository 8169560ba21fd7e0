#include "core/rng.h"
#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

RngKey rng_key(uint64_t seed, uint32_t purpose) {
    uint64_t k = splitmix64(seed ^ splitmix64(purpose));
    RngKey key = {{(uint32_t)k, (uint32_t)(k >> 32)}};
    return key;
}

void rng_block(RngKey key, uint64_t c_hi, uint64_t c_lo, uint32_t out[4]) {
    uint32_t c[4] = {(uint32_t)c_lo, (uint32_t)(c_lo >> 32), (uint32_t)c_hi, (uint32_t)(c_hi >> 32)};
    uint32_t k0 = key.k[0], k1 = key.k[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
        uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c[0] = n0; c[1] = n1; c[2] = n2; c[3] = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c[0]; out[1] = c[1]; out[2] = c[2]; out[3] = c[3];
}

static real u32_to_unit(uint32_t x) { return (real)(x >> 8) * (1.0f / 16777216.0f); }  // [0,1), 24 bits

uint32_t rng_u32(RngKey key, uint64_t c_hi, uint64_t c_lo) {
    uint32_t o[4];
    rng_block(key, c_hi, c_lo, o);
    return o[0];
}

real rng_uniform(RngKey key, uint64_t c_hi, uint64_t c_lo) { return u32_to_unit(rng_u32(key, c_hi, c_lo)); }

// Box-Muller on two words of the block; uses (0,1] for the log argument.
static real box_muller(uint32_t a, uint32_t b) {
    double u1 = ((double)(a >> 8) + 1.0) / 16777216.0;
    double u2 = (double)(b >> 8) / 16777216.0;
    return (real)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

real rng_normal(RngKey key, uint64_t c_hi, uint64_t c_lo) {
    uint32_t o[4];
    rng_block(key, c_hi, c_lo, o);
    return box_muller(o[0], o[1]);
}

void rng_fill_uniform(real *out, size_t n, real lo, real hi, RngKey key, uint64_t c_hi) {
    for (size_t i = 0; i < n; i += 4) {
        uint32_t o[4];
        rng_block(key, c_hi, i / 4, o);
        for (size_t j = 0; j < 4 && i + j < n; j++) out[i + j] = lo + (hi - lo) * u32_to_unit(o[j]);
    }
}

void rng_fill_normal(real *out, size_t n, real mean, real std, RngKey key, uint64_t c_hi) {
    for (size_t i = 0; i < n; i += 2) {
        uint32_t o[4];
        rng_block(key, c_hi, i / 2, o);
        out[i] = mean + std * box_muller(o[0], o[1]);
        if (i + 1 < n) out[i + 1] = mean + std * box_muller(o[2], o[3]);
    }
}
