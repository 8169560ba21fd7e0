// io/capbank.h on a synthetic set: the bank holds distinct rows (bitwise), each the embedding of a
// caption of the sample whose labels it carries, the same rows for the same seed (another seed: another
// order); capbank_nearest_other finds, against a brute-force search in double, the most similar row among
// those differing from the query's labels in exactly the asked column (and -1 where none can).
#include "io/capbank.h"
#include "io/synth.h"
#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double cosine(const real *a, const real *b, int E) {
    double ab = 0, aa = 0, bb = 0;
    for (int d = 0; d < E; d++) ab += (double)a[d] * b[d], aa += (double)a[d] * a[d], bb += (double)b[d] * b[d];
    return ab / sqrt(aa * bb);
}

int main(void) {
    char dir[] = "/tmp/ratlip_test_capbankXXXXXX";
    TU_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    Err e;
    TU_CHECK(synth_write(dir, 16, 600, 40, 5, 2, NULL, &e) == 0, "synth_write: %s", e.msg);
    Dataset *ds = NULL, *test = NULL;
    TU_CHECK(ds_open(&ds, dir, "train", &e) == 0 && ds_open(&test, dir, "test", &e) == 0, "ds_open: %s", e.msg);
    const int E = ds_info(ds)->embed_dim, L = ds_info(ds)->label_dim;
    CapBank b, b2, b3;
    TU_CHECK(capbank_build(&b, ds, 1000, 11, &e) == 0, "capbank_build: %s", e.msg);
    TU_CHECK(b.n == 1000 && b.E == E && b.L == L && L == 4, "bank of %d rows (E %d, L %d)", b.n, b.E, b.L);
    TU_CHECK(b.reads >= b.n && b.reads <= 16 * 1000, "%ld reads for %d rows", b.reads, b.n);
    // distinct rows, each a caption of a sample with the row's labels
    int dup = 0, unmatched = 0;
    real *row = malloc((size_t)E * sizeof(real));
    for (int i = 0; i < b.n; i++) {
        for (int j = 0; j < i; j++)
            dup += !memcmp(b.emb + (size_t)i * E, b.emb + (size_t)j * E, (size_t)E * sizeof(real));
        int found = 0;
        for (long s = 0; s < ds_size(ds) && !found; s++) {
            if (memcmp(ds_labels(ds, s), b.labels + (size_t)i * L, (size_t)L * sizeof(int32_t))) continue;
            for (int c = 0; c < ds_text_count(ds, s) && !found; c++) {
                TU_CHECK(ds_read_emb(ds, s, c, row, &e) == 0, "ds_read_emb: %s", e.msg);
                found = !memcmp(row, b.emb + (size_t)i * E, (size_t)E * sizeof(real));
            }
        }
        unmatched += !found;
    }
    TU_CHECK(dup == 0, "%d duplicate rows", dup);
    TU_CHECK(unmatched == 0, "%d rows are no caption of a sample with their labels", unmatched);
    // the same seed: the same rows; another seed: another order
    TU_CHECK(capbank_build(&b2, ds, 1000, 11, &e) == 0 && capbank_build(&b3, ds, 1000, 12, &e) == 0, "rebuild: %s",
             e.msg);
    TU_CHECK(!memcmp(b.emb, b2.emb, (size_t)b.n * E * sizeof(real)), "same seed, other rows");
    TU_CHECK(memcmp(b.emb, b3.emb, (size_t)b.n * E * sizeof(real)) != 0, "another seed, the same rows");
    // nearest_other against brute force, for test captions and every label column
    int checked = 0, none = 0;
    for (long s = 0; s < ds_size(test); s++) {
        const int32_t *lab = ds_labels(test, s);
        TU_CHECK(ds_read_emb(test, s, (int)(s % ds_text_count(test, s)), row, &e) == 0, "ds_read_emb: %s", e.msg);
        for (int col = 0; col < L; col++) {
            int want = -1;
            double best = -INFINITY;
            for (int m = 0; m < b.n; m++) {
                const int32_t *lm = b.labels + (size_t)m * L;
                int ok = lm[col] != lab[col];
                for (int k = 0; k < L; k++) ok = ok && (k == col || lm[k] == lab[k]);
                double c = ok ? cosine(row, b.emb + (size_t)m * E, E) : -INFINITY;
                if (ok && c > best) best = c, want = m;
            }
            int got = capbank_nearest_other(&b, row, lab, col);
            if (want < 0) {
                TU_CHECK(got == -1, "sample %ld column %d: no row differs there only, got %d", s, col, got);
                none++;
                continue;
            }
            TU_CHECK(got >= 0, "sample %ld column %d: -1, want row %d", s, col, want);
            if (got < 0) continue;
            const int32_t *lg = b.labels + (size_t)got * L;
            int ok = lg[col] != lab[col];
            for (int k = 0; k < L; k++) ok = ok && (k == col || lg[k] == lab[k]);
            double c = cosine(row, b.emb + (size_t)got * E, E);
            // float dot products against double: equal up to rounding (near-ties may pick either)
            TU_CHECK(ok && c >= best - 1e-5, "sample %ld column %d: row %d (cos %.7f, labels ok %d), best %d (%.7f)",
                     s, col, got, c, ok, want, best);
            checked++;
        }
    }
    TU_CHECK(checked >= 100, "only %d searches had a row to find", checked);
    TU_CHECK(capbank_nearest_other(&b, row, ds_labels(test, 0), L) == -1 &&
                 capbank_nearest_other(&b, row, ds_labels(test, 0), -1) == -1,
             "a column out of range must give -1");
    printf("bank %d rows from %ld reads; nearest_other checked in %d searches (%d without a candidate)\n", b.n, b.reads,
           checked, none);
    capbank_free(&b), capbank_free(&b2), capbank_free(&b3);
    TU_CHECK(b.emb == NULL && b.n == 0, "capbank_free leaves an empty bank");
    free(row);
    ds_close(ds), ds_close(test);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    TU_CHECK(system(cmd) == 0, "cleanup");
    return tu_done("test_capbank");
}
