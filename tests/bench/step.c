// bench_step: the C half of the training-step benchmark (tests/bench/step.sh runs it next to
// step_torch.py and prints the table). One full training iteration of a config (default tiny: D step
// with MA-GP, Adam, G step, Adam, EMA; one rank) timed two ways:
//   ITER   through core/gan.h (gan_d_backward, gan_d_update, gan_g_backward, gan_g_update): the headline;
//   PART   the same iteration re-strung here from the public network calls with a timer around each
//          network part, to show where the time goes (their sum is printed next to ITER as a check).
// Random CLIP weights and inputs: the arithmetic, not the values, is what costs. Not a pass/fail test.
//   usage: bench_step [threads] [iterations] [config.json|-] [sample|batch] [fp32|bf16|bf16-force]
//   prints  ITER <rat_mode>[-bf16] <threads> <wall ms> <cpu ms>   (fastest of the iterations; -bf16
//           when bf16 was asked: the "# precision:" line says what ran, since bf16 falls back to fp32
//           on a CPU without AMX/avx512_bf16 unless bf16-force)
//           PART <name> <wall ms> <cpu ms>                  (fastest per part)
// At 1 thread the process CPU time is the steadier figure on a shared machine (waiting for a core is
// not counted); at 2 threads it counts both threads, so wall is the one to read there.
// Run it with OMP_WAIT_POLICY=passive, as the ratlip command does (core/kernels.h, kern_startup_env).
#include "core/gan.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "core/rng.h"
#include "io/config.h"
#include "io/modeldims.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// ---------------------------------------------------------------- part timers
enum {
    P_CLIP_FWD,    // CLIP encode forward: real (taps only) and fake (taps + embedding)
    P_NETDC_D,     // NetD/NetC forward + backward with weight grads: real, mismatched, fake
    P_MAGP,        // MA-GP value and its exact parameter gradient
    P_NETG_FWD,    // NetG forward (incl. the CLIP mapper)
    P_ADAM_D,      // Adam on NetD + NetC
    P_NETDC_G,     // G step: NetD/NetC forward again (updated D) + input-only backward
    P_CLIP_BWD,    // CLIP encode backward into the fake image (frozen: input gradients only)
    P_NETG_BWD,    // NetG backward (incl. the CLIP mapper's)
    P_ADAM_G,      // Adam on NetG + the EMA copy
    P_OTHER,       // hinge, cosine, zeroing
    N_PARTS
};
static const char *part_names[N_PARTS] = {"clip_enc_fwd", "netdc_dstep", "magp", "netg_fwd", "adam_d",
                                          "netdc_gstep", "clip_enc_bwd", "netg_bwd", "adam_g_ema", "other"};
static double part_wall[N_PARTS], part_cpu[N_PARTS];  // this iteration
static double mark_wall, mark_cpu;

static void mark_start(void) { mark_wall = clock_s(CLOCK_MONOTONIC), mark_cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID); }
// Charges the time since the last mark to part p and restarts the clock.
static void charge(int p) {
    double w = clock_s(CLOCK_MONOTONIC), c = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    part_wall[p] += (w - mark_wall) * 1e3;
    part_cpu[p] += (c - mark_cpu) * 1e3;
    mark_wall = w, mark_cpu = c;
}

// ---------------------------------------------------------------- the re-strung iteration
// Own activations (GanBufs is private to core/gan.c); the networks are the Gan's.
typedef struct {
    ClipActs *clip_real, *clip_fake;
    NetGActs *gacts;
    NetDActs *d_real, *d_fake;
    NetCActs *c_real, *c_mis, *c_fake;
    Magp *magp;
    real *fake, *dfake, *taps_real, *taps_fake, *dtaps_fake, *emb_fake, *demb_fake;
    real *feat_real, *feat_fake, *dfeat, *pred, *dpred, *cosv, *dcos;
    size_t nimg, ntaps, nfeat;
} Acts;

static real *zalloc(size_t n) {
    real *p = calloc(n ? n : 1, sizeof(real));
    if (!p) fprintf(stderr, "bench_step: out of memory\n"), exit(1);
    return p;
}

static void acts_new(Acts *a, Gan *gan, const NetDDims *dd, int B) {
    const ClipDims *cd = &gan->clip.d;
    Err e = {{0}};
    int g = cd->grid;
    a->nimg = (size_t)B * 3 * cd->image_size * cd->image_size;
    a->ntaps = (size_t)B * cd->n_taps * cd->width * g * g;
    a->nfeat = (size_t)B * dd->d_out_ch * g * g;
    a->clip_real = clip_acts_new(&gan->clip, B, 0);
    a->clip_fake = clip_acts_new(&gan->clip, B, 0);
    a->gacts = netg_acts_new(&gan->g, &gan->clip, B, &e);
    a->d_real = netd_acts_new(dd, B), a->d_fake = netd_acts_new(dd, B);
    a->c_real = netc_acts_new(dd, B), a->c_mis = netc_acts_new(dd, B), a->c_fake = netc_acts_new(dd, B);
    a->magp = magp_new(dd, B);
    if (!a->clip_real || !a->clip_fake || !a->gacts || !a->d_real || !a->d_fake || !a->c_real || !a->c_mis ||
        !a->c_fake || !a->magp)
        fprintf(stderr, "bench_step: cannot allocate activations %s\n", e.msg), exit(1);
    a->fake = zalloc(a->nimg), a->dfake = zalloc(a->nimg);
    a->taps_real = zalloc(a->ntaps), a->taps_fake = zalloc(a->ntaps), a->dtaps_fake = zalloc(a->ntaps);
    a->emb_fake = zalloc((size_t)B * cd->embed_dim), a->demb_fake = zalloc((size_t)B * cd->embed_dim);
    a->feat_real = zalloc(a->nfeat), a->feat_fake = zalloc(a->nfeat), a->dfeat = zalloc(a->nfeat);
    a->pred = zalloc(B), a->dpred = zalloc(B), a->cosv = zalloc(B), a->dcos = zalloc(B);
}

static void acts_free(Acts *a) {
    clip_acts_free(a->clip_real), clip_acts_free(a->clip_fake);
    netg_acts_free(a->gacts);
    netd_acts_free(a->d_real), netd_acts_free(a->d_fake);
    netc_acts_free(a->c_real), netc_acts_free(a->c_mis), netc_acts_free(a->c_fake);
    magp_free(a->magp);
    real *bufs[] = {a->fake, a->dfake, a->taps_real, a->taps_fake, a->dtaps_fake, a->emb_fake, a->demb_fake,
                    a->feat_real, a->feat_fake, a->dfeat, a->pred, a->dpred, a->cosv, a->dcos};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
}

// dpred[b] = weight·sign/B where 1 + sign·pred[b] > 0 (the hinge's gradient; its value is not needed here)
static void hinge_grad(const real *pred, real *dpred, int B, real sign, real weight) {
    for (int b = 0; b < B; b++) dpred[b] = 1 + sign * pred[b] > 0 ? weight * sign / B : 0;
}

static void adam(ParamSet *ps, real lr, const GanHyper *h) {
    ps->adam_step++;
    adam_step(ps->data, ps->grad, ps->adam_m, ps->adam_v, ps->n_trainable, lr, h->beta1, h->beta2, h->adam_eps,
              ps->adam_step);
}

// The arithmetic of gan_d_backward + gan_d_update + gan_g_backward + gan_g_update (core/gan.c), in the
// same order, with every network part charged to its timer. img must be at CLIP's input size.
static void iterate_parts(Gan *gan, Acts *a, const real *img, const real *s, const real *s_mis, const real *z,
                          int B) {
    NetDC *dc = &gan->dc;
    const GanHyper *h = &gan->h;
    int E = gan->clip.d.embed_dim;
    memset(part_wall, 0, sizeof part_wall), memset(part_cpu, 0, sizeof part_cpu);
    mark_start();
    // D step
    params_zero_grad(&dc->netd), params_zero_grad(&dc->netc);
    charge(P_OTHER);
    clip_encode_forward(&gan->clip, a->clip_real, a->taps_real, NULL, img, B);
    charge(P_CLIP_FWD);
    netd_forward(dc, a->d_real, a->feat_real, a->taps_real, B);
    netc_forward(dc, a->c_real, a->pred, a->feat_real, s, B);
    charge(P_NETDC_D);
    magp_forward_backward(dc, a->magp, a->d_real, a->c_real, B, h->magp_weight, h->magp_p, NULL, NULL);
    charge(P_MAGP);
    hinge_grad(a->pred, a->dpred, B, -1, 1);
    memset(a->dfeat, 0, a->nfeat * sizeof(real));
    netc_backward(dc, a->c_real, a->dfeat, NULL, a->dpred, B);
    netc_forward(dc, a->c_mis, a->pred, a->feat_real, s_mis, B);
    hinge_grad(a->pred, a->dpred, B, +1, 0.5);
    netc_backward(dc, a->c_mis, a->dfeat, NULL, a->dpred, B);
    netd_backward(dc, a->d_real, NULL, a->dfeat, B);
    charge(P_NETDC_D);
    if (netg_forward(&gan->g, a->gacts, &gan->clip, z, s, a->fake, B, 1))
        fprintf(stderr, "bench_step: netg_forward failed\n"), exit(1);
    charge(P_NETG_FWD);
    clip_encode_forward(&gan->clip, a->clip_fake, a->taps_fake, a->emb_fake, a->fake, B);
    charge(P_CLIP_FWD);
    netd_forward(dc, a->d_fake, a->feat_fake, a->taps_fake, B);
    netc_forward(dc, a->c_fake, a->pred, a->feat_fake, s, B);
    hinge_grad(a->pred, a->dpred, B, +1, 0.5);
    memset(a->dfeat, 0, a->nfeat * sizeof(real));
    netc_backward(dc, a->c_fake, a->dfeat, NULL, a->dpred, B);
    netd_backward(dc, a->d_fake, NULL, a->dfeat, B);
    charge(P_NETDC_D);
    adam(&dc->netd, h->lr_d, h), adam(&dc->netc, h->lr_d, h);
    charge(P_ADAM_D);
    // G step
    params_zero_grad(&gan->g.ps);
    charge(P_OTHER);
    netd_forward(dc, a->d_fake, a->feat_fake, a->taps_fake, B);
    netc_forward(dc, a->c_fake, a->pred, a->feat_fake, s, B);
    for (int i = 0; i < B; i++) a->dpred[i] = (real)-1 / B;
    memset(a->dfeat, 0, a->nfeat * sizeof(real));
    memset(a->dtaps_fake, 0, a->ntaps * sizeof(real));
    netc_backward_input(dc, a->c_fake, a->dfeat, NULL, a->dpred, B);
    netd_backward_input(dc, a->d_fake, a->dtaps_fake, a->dfeat, B);
    charge(P_NETDC_G);
    cosine_similarity_forward(a->cosv, a->emb_fake, s, B, E, (real)1e-8);
    for (int i = 0; i < B; i++) a->dcos[i] = -h->sim_weight / B;
    memset(a->demb_fake, 0, (size_t)B * E * sizeof(real));
    cosine_similarity_backward(a->demb_fake, NULL, a->dcos, a->emb_fake, s, B, E, (real)1e-8);
    memset(a->dfake, 0, a->nimg * sizeof(real));
    charge(P_OTHER);
    clip_encode_backward(&gan->clip, a->clip_fake, a->dfake, a->dtaps_fake, a->demb_fake, B);
    charge(P_CLIP_BWD);
    if (netg_backward(&gan->g, a->gacts, &gan->clip, a->dfake, NULL, B))
        fprintf(stderr, "bench_step: netg_backward failed\n"), exit(1);
    charge(P_NETG_BWD);
    gan_g_update(gan);
    charge(P_ADAM_G);
}

// Wall ms of one iteration through core/gan.h; *cpu_ms: the process's CPU time in it.
static double iterate(Gan *gan, const real *img, const real *s, const real *s_mis, const real *z, int B,
                      double *cpu_ms) {
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    GanLosses L;
    memset(&L, 0, sizeof L);
    if (gan_d_backward(gan, img, s, s_mis, z, B, &L)) fprintf(stderr, "bench_step: D step failed\n"), exit(1);
    gan_d_update(gan);
    if (gan_g_backward(gan, s, B, &L)) fprintf(stderr, "bench_step: G step failed\n"), exit(1);
    gan_g_update(gan);
    *cpu_ms = (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e3;
    return (clock_s(CLOCK_MONOTONIC) - t0) * 1e3;
}

// the process's peak resident set, MB (as the trainer reports it on its done: line)
static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1, iters = argc > 2 ? atoi(argv[2]) : 5;
    Config cfg;
    Err e = {{0}};
    config_defaults(&cfg);
    if (argc > 3 && strcmp(argv[3], "-") && config_load_file(&cfg, argv[3], &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    if (argc > 4) {
        if (strcmp(argv[4], "sample") && strcmp(argv[4], "batch"))
            return fprintf(stderr, "bench_step: rat mode '%s' is not sample or batch\n", argv[4]), 2;
        snprintf(cfg.model.rat_mode, sizeof cfg.model.rat_mode, "%s", argv[4]);
    }
    const char *prec = argc > 5 ? argv[5] : "fp32";
    if (strcmp(prec, "fp32") && strcmp(prec, "bf16") && strcmp(prec, "bf16-force"))
        return fprintf(stderr, "bench_step: precision '%s' is not fp32, bf16 or bf16-force\n", prec), 2;
    if (threads < 1 || iters < 1)
        return fprintf(stderr, "usage: bench_step [threads] [iterations] [config|-] [sample|batch] [fp32|bf16|bf16-force]\n"), 2;
    kern_set_threads(threads);
    kern_set_precision(strcmp(prec, "fp32") != 0, !strcmp(prec, "bf16-force"));
    printf("# %s\n", kern_precision_line());
    NetGDims gd;
    NetDDims dd;
    ClipDims cd;
    GanHyper h;
    modeldims_netg(&cfg.model, &gd);
    modeldims_netd(&cfg.model, &dd);
    modeldims_clip(&cfg.model, &cd);
    modeldims_hyper(&cfg.train, &h);
    int B = cfg.train.batch_per_rank, S = cfg.model.clip_image_size, T = cfg.model.text_dim, Z = cfg.model.z_dim;
    Gan gan;
    // real images handed in at CLIP's input size, so both timings see the same work (no resize)
    if (gan_build(&gan, &gd, &dd, &cd, &h, B, S, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    clip_init_random(&gan.clip, CLIP_RANDOM_SEED);
    gan_init(&gan, 2);
    Acts acts;
    size_t nimg = (size_t)B * 3 * S * S;
    real *img = zalloc(nimg), *s = zalloc((size_t)B * T), *z = zalloc((size_t)B * Z), *s_mis = zalloc((size_t)B * T);
    rng_fill_uniform(img, nimg, -1, 1, rng_key(3, RNG_DATA_ORDER), 0);
    rng_fill_normal(s, (size_t)B * T, 0, 1, rng_key(3, RNG_CAPTION), 0);
    rng_fill_normal(z, (size_t)B * Z, 0, 1, rng_key(3, RNG_NOISE), 0);
    for (int b = 0; b < B; b++) memcpy(s_mis + (size_t)b * T, s + (size_t)((b + 1) % B) * T, sizeof(real) * T);

    printf("# bench_step: %s, %d thread(s), rat_mode %s, batch %d, %dx%d images\n", kern_backend_name(), threads,
           cfg.model.rat_mode, B, S, S);
    printf("# %s\n", kern_cpu_line());
    double cpu, best = 1e30, best_cpu = 1e30, pw[N_PARTS], pc[N_PARTS];
    for (int p = 0; p < N_PARTS; p++) pw[p] = pc[p] = 1e30;
    iterate(&gan, img, s, s_mis, z, B, &cpu);  // warm-up: primitives, scratch, page faults
    // peak resident memory of the process as a trainer's would be: before the part timers' own
    // activations exist
    printf("RSS\t%s%s\t%d\t%.1f\n", cfg.model.rat_mode, strcmp(prec, "fp32") ? "-bf16" : "", threads, peak_rss_mb());
    acts_new(&acts, &gan, &dd, B);
    iterate_parts(&gan, &acts, img, s, s_mis, z, B);
    for (int i = 0; i < iters; i++) {  // alternate, so both see the same load
        double t = iterate(&gan, img, s, s_mis, z, B, &cpu);
        if (t < best) best = t;
        if (cpu < best_cpu) best_cpu = cpu;
        iterate_parts(&gan, &acts, img, s, s_mis, z, B);
        for (int p = 0; p < N_PARTS; p++) {
            if (part_wall[p] < pw[p]) pw[p] = part_wall[p];
            if (part_cpu[p] < pc[p]) pc[p] = part_cpu[p];
        }
    }
    printf("ITER\t%s%s\t%d\t%.2f\t%.2f\n", cfg.model.rat_mode, strcmp(prec, "fp32") ? "-bf16" : "", threads, best,
           best_cpu);
    for (int p = 0; p < N_PARTS; p++) printf("PART\t%s\t%.2f\t%.2f\n", part_names[p], pw[p], pc[p]);
    acts_free(&acts);
    gan_free(&gan);
    free(img), free(s), free(z), free(s_mis);
    return 0;
}
