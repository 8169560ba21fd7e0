// bench_reader: images/s the prefetching reader sustains (64x64, batch 8, crop 4 + flip), on a synthetic
// dataset it writes first (timing `synth` too). Not a test: prints a table.
//   bench_reader [DIR] [TRAIN_IMAGES] [reuse]   (default /tmp/ratlip_bench_reader, 10000)
// reuse: read DIR's shards as they are, e.g. copies without checksums (h5repack -f NONE) to measure their cost.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/kernels.h"
#include "io/dataset.h"
#include "io/reader.h"
#include "io/synth.h"
#include "io/bow.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

// CPU time of this thread: steadier than wall time on a shared machine
static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/ratlip_bench_reader";
    long n = argc > 2 ? atol(argv[2]) : 10000;
    Err e;
    int reuse = argc > 3 && !strcmp(argv[3], "reuse");
    double t0 = now_s();
    if (!reuse && synth_write(dir, 64, n, 0, 1, 4, NULL, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    double t_synth = now_s() - t0;
    Dataset *ds;
    t0 = now_s();
    if (ds_open(&ds, dir, "train", &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    double t_open = now_s() - t0;
    printf("%s\n", kern_cpu_line());
    printf("%-44s %10s\n", "what", "figure");
    if (!reuse)
        printf("%-44s %9.2f s (%.0f images/s)\n", "synth 64x64 (train, 4 shards, incl. bow)", t_synth, n / t_synth);
    printf("%-44s %9.3f s\n", "ds_open (checks incl. NaN scan)", t_open);
    // the raw read a sample costs (one H5Dread each, in a random order), without the reader's thread and
    // conversion: where the Fletcher-32 check of each chunk shows (ds_num_checksummed says if it is on)
    {
        long N = ds_size(ds);
        int64_t *perm = malloc((size_t)N * sizeof(int64_t));
        uint8_t *px = malloc(64 * 64 * 3);
        real emb[BOW_DIM];
        reader_permutation(7, 0, N, perm);
        t0 = now_s();
        double c0 = cpu_s();
        for (long i = 0; i < N; i++)
            if (ds_read_image(ds, perm[i], px, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        double t_img = now_s() - t0, c_img = cpu_s() - c0;
        t0 = now_s();
        c0 = cpu_s();
        for (long i = 0; i < N; i++)
            if (ds_read_emb(ds, perm[i], 0, emb, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        double t_emb = now_s() - t0, c_emb = cpu_s() - c0;
        printf("shards with Fletcher-32: %d of %d\n", ds_num_checksummed(ds), ds_num_shards(ds));
        printf("%-44s %9.0f images/s (%.1f us CPU each)\n", "ds_read_image, random order", N / t_img, 1e6 * c_img / N);
        printf("%-44s %9.0f samples/s (%.1f us CPU each)\n", "ds_read_emb, random order", N / t_emb, 1e6 * c_emb / N);
        free(perm);
        free(px);
    }
    for (int prefetch = 1; prefetch <= 4; prefetch *= 4)
        for (int aug = 0; aug <= 1; aug++) {
            ReaderOptions o = {.seed = 1, .rank = 0, .world = 1, .local_batch = 8, .prefetch = prefetch,
                               .crop_pad = aug ? 4 : 0, .flip = aug};
            Reader *r;
            if (reader_open(&r, ds, &o, (ReaderState){0, 0}, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
            ReaderBatch b;
            reader_batch_alloc(&b, r);
            long batches = 2 * reader_steps_per_epoch(r);  // two epochs: crosses an epoch boundary
            t0 = now_s();
            for (long i = 0; i < batches; i++)
                if (reader_next(r, &b, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
            double dt = now_s() - t0;
            char what[96];
            snprintf(what, sizeof(what), "reader B=8 prefetch=%d %s", prefetch, aug ? "crop4+flip" : "no aug");
            printf("%-44s %9.0f images/s\n", what, batches * 8 / dt);
            reader_batch_free(&b);
            reader_close(r);
        }
    ds_close(ds);
    return 0;
}
