// test_inception: the C Inception-v3 (core/inception.c) on weights converted by
// io/tools/convert_inception.py from a randomly initialised PyTorch model (tests/reference/inception_ref.py)
// gives the reference's pool3 features, for the variant named on the command line: compared with the
// reference's float64 run (/feat_f64) within κ times its own float32 run's error (/feat; testutil.h,
// tu_ref_tol). An optional 4th argument is the side the reference resized the images to (its
// --inception-size, eval.inception_size; default 299).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/inception.h"
#include "io/weights.h"
#include "testutil.h"

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: test_inception REF.h5 WEIGHTS.h5 fid|tv [INCEPTION_SIZE]\n");
        return 2;
    }
    InceptionVariant v;
    Err e = {{0}};
    if (inception_variant_from_name(argv[3], &v)) return 2;
    Inception net;
    if (inception_build(&net, v, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    if (argc > 4) net.input_size = atoi(argv[4]);
    int n = weights_load(argv[2], "/", &net.ps, 1, &e);
    TU_CHECK(n == net.ps.count, "weights_load: %d of %d tensors: %s", n, net.ps.count, e.msg);
    printf("loaded %d tensors (%zu floats) of %s\n", n, net.ps.total, inception_network_name(v));
    TU_CHECK(net.ps.count == 94 * 5, "%d tensors declared, the FID network has 470 without fc", net.ps.count);
    TU_CHECK(inception_prepare(&net, &e) == 0, "%s", e.msg);
    size_t ni, nf;
    float *img = tu_read_f32(argv[1], "img", &ni);
    float *want = tu_read_f32(argv[1], "feat_f64", &nf);
    double e_ref = tu_ref_err(argv[1], "feat", argv[1], "feat_f64"), tol = tu_ref_tol(e_ref, sizeof(float));
    printf("reference float32 vs float64: %.3e; tolerance %.2e\n", e_ref, tol);
    int B = (int)(nf / INCEPTION_DIM);
    int S = (int)lround(sqrt((double)ni / (3.0 * B)));
    IncActs *a = inception_acts_new(&net, B);
    float *feat = malloc(nf * sizeof(float));
    inception_forward(&net, a, feat, img, B, S);
    char what[96];
    snprintf(what, sizeof what, "%s pool3 features (B=%d, %dx%d input resized to %d)", argv[3], B, S, S, net.input_size);
    tu_close(what, feat, want, nf, tol);
    // one image at a time gives the same features (no batch coupling)
    float *one = malloc(INCEPTION_DIM * sizeof(float));
    inception_forward(&net, a, one, img + (size_t)(B - 1) * 3 * S * S, 1, S);
    tu_close("last image alone", one, want + (size_t)(B - 1) * INCEPTION_DIM, INCEPTION_DIM, tol);
    // seeded random network: deterministic, finite, O(1) features, different from the loaded ones
    Inception r1, r2;
    inception_build(&r1, v, &e);
    inception_build(&r2, v, &e);
    r1.input_size = r2.input_size = net.input_size;   // the activations `a` are for that side
    inception_init_random(&r1, 11);
    inception_init_random(&r2, 11);
    inception_prepare(&r1, &e);
    inception_prepare(&r2, &e);
    float *f1 = malloc(nf * sizeof(float)), *f2 = malloc(nf * sizeof(float));
    inception_forward(&r1, a, f1, img, B, S);
    inception_forward(&r2, a, f2, img, B, S);
    double mean = 0;
    int finite = 1;
    for (size_t i = 0; i < nf; i++) {
        finite &= isfinite(f1[i]);
        mean += f1[i] / (double)nf;
    }
    TU_CHECK(finite && mean > 1e-3 && mean < 1e3, "random network features: finite %d, mean %g", finite, mean);
    TU_CHECK(memcmp(f1, f2, nf * sizeof(float)) == 0, "random network not reproducible for a seed");
    printf("ok   random-weight network: mean feature %.4f, reproducible\n", mean);
    inception_acts_free(a);
    inception_free(&net);
    inception_free(&r1);
    inception_free(&r2);
    free(img); free(want); free(feat); free(one); free(f1); free(f2);
    return tu_done("test_inception");
}
