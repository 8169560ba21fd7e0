// test_vmath: the vectorisable exp and sigmoid of core/vmath.h against double-precision libm over
// their whole float range, every 97th float bit pattern in [-87.3, 88] plus the clamp edges and beyond:
// relative error ≤ 2 ulp (2^-22) for exp, ≤ 3 ulp for σ; beyond the clamps finite and monotone; and
// the vectorised loop (omp simd over an array) bit-identical to the scalar calls.
#include "core/vmath.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

int main(void) {
    int failures = 0;
    double worst_exp = 0, worst_sig = 0;
    float at_exp = 0, at_sig = 0;
    size_t n = 0, cap = 1 << 22;
    float *xs = malloc(cap * sizeof(float)), *ys = malloc(cap * sizeof(float));
    for (uint64_t u = 0; u < 0x100000000ull; u += 97) {
        float x = from_bits((uint32_t)u);
        if (!(x >= -87.3f && x <= 88.0f)) continue;
        double ref = exp((double)x), got = vexp(x);
        double rel = fabs(got - ref) / ref;
        if (rel > worst_exp) worst_exp = rel, at_exp = x;
        double sref = 1 / (1 + exp(-(double)x)), sgot = vsigmoid(x);
        double srel = fabs(sgot - sref) / sref;
        if (srel > worst_sig) worst_sig = srel, at_sig = x;
        if (n < cap) xs[n++] = x;
    }
    printf("exp: max relative error %.3g ulp at %.9g; sigmoid: %.3g ulp at %.9g (ulp = 2^-23)\n",
           worst_exp * 8388608.0, (double)at_exp, worst_sig * 8388608.0, (double)at_sig);
    if (worst_exp > 2.0 / 4194304.0) printf("FAIL exp error above 2 ulp\n"), failures++;
    if (worst_sig > 3.0 / 8388608.0) printf("FAIL sigmoid error above 3 ulp\n"), failures++;
    // clamps: finite, ordered, and σ saturates to 0 and 1
    float big[] = {-1e30f, -1000, -88, -87.3f, 88.0f, 89, 1000, 1e30f};
    for (int i = 0; i < 8; i++) {
        float e = vexp(big[i]), s = vsigmoid(big[i]);
        if (!isfinite(e) || e <= 0 || (i && e < vexp(big[i - 1]))) printf("FAIL vexp(%g) = %g\n", big[i], e), failures++;
        if (!(s >= 0 && s <= 1)) printf("FAIL vsigmoid(%g) = %g\n", big[i], s), failures++;
    }
    if (vsigmoid(-1000) > 1e-30f || vsigmoid(1000) != 1) printf("FAIL sigmoid does not saturate\n"), failures++;
    // the vector loop computes what the scalar function does
#pragma omp simd
    for (size_t i = 0; i < n; i++) ys[i] = vexp(xs[i]);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += memcmp(&ys[i], &(float){vexp(xs[i])}, sizeof(float)) != 0;
    printf("vector vs scalar: %zu of %zu differ\n", bad, n);
    if (bad) printf("FAIL the vectorised loop differs from the scalar calls\n"), failures++;
    free(xs), free(ys);
    printf(failures ? "test_vmath: %d failure(s)\n" : "test_vmath: ok\n", failures);
    return failures != 0;
}
