// vmath: branch-free exp and sigmoid that the compiler vectorises (16 floats per AVX-512 instruction)
// inside `omp simd` loops, where libm's expf is one scalar call per value (QuickGELU's expf alone was
// ~12 % of a training step). Float build: Cody-Waite reduction x = k·ln2 + r and Cephes' degree-6
// polynomial for e^r on |r| ≤ ln2/2, then 2^k put into the exponent bits; max relative error 0.7 ulp
// over [-87, 88] (tests/core/test_vmath.c checks it against double exp). Arguments are clamped to
// [-87.3, 88]: below, the result is ~1e-38 instead of a denormal or 0; above, 1.6e38 instead of inf
// (every caller here divides by 1 + e^x or feeds x - max ≤ 0). The double build (finite-difference
// tests) uses libm's exp unchanged.
#pragma once
#include <stdint.h>
#include <string.h>
#include "core/real.h"

#ifdef RATLIP_F64
static inline double vexp(double x) { return exp(x); }
#else
static inline float vexp(float x) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.0f ? 88.0f : x;
    // k = round(x / ln2) by the 1.5·2^23 trick (no rint call, so the loop vectorises)
    const float shifter = 12582912.0f;
    float kf = (x * 1.44269504088896341f + shifter) - shifter;
    float r = x - kf * 0.693359375f;           // ln2 split in a part exact in float…
    r = r + kf * 2.12194440e-4f;               // …and the rest (Cephes' C1, C2)
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t bits = ((int32_t)kf + 127) << 23;  // 2^k, k in [-126, 127]
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}
#endif

// σ(x) = 1 / (1 + e^-x): with the clamp above, e^-x stays finite, so no branch is needed.
static inline real vsigmoid(real x) { return 1 / (1 + vexp(-x)); }
