// capbank: see capbank.h.
#include "io/capbank.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "io/bow.h"

void capbank_free(CapBank *b) {
    free(b->emb), free(b->inv_norm), free(b->labels);
    memset(b, 0, sizeof *b);
}

int capbank_build(CapBank *b, Dataset *ds, int want, uint64_t seed, Err *e) {
    memset(b, 0, sizeof *b);
    if (want <= 0) return 0;
    const DsInfo *info = ds_info(ds);
    int E = info->embed_dim, L = info->label_dim;
    long n = ds_size(ds), budget = 16L * want;
    size_t cap = 2;   // open-addressing table of row hashes, at most half full
    while (cap < 2 * (size_t)want) cap *= 2;
    long *order = malloc((size_t)n * sizeof(long));
    uint64_t *table = calloc(cap, sizeof(uint64_t));   // 0 = empty (a hash of 0 is stored as 1)
    b->E = E, b->L = L;
    b->emb = malloc((size_t)want * E * sizeof(real));
    b->inv_norm = malloc((size_t)want * sizeof(float));
    b->labels = L > 0 ? malloc((size_t)want * L * sizeof(int32_t)) : NULL;
    if (!order || !table || !b->emb || !b->inv_norm || (L > 0 && !b->labels)) {
        free(order), free(table), capbank_free(b);
        return err_set(e, "out of memory for a caption bank of %d", want);
    }
    RngKey key = rng_key(seed, RNG_CAPTION_BANK);
    for (long i = 0; i < n; i++) order[i] = i;
    for (long i = n - 1; i > 0; i--) {   // Fisher-Yates
        uint64_t r = (uint64_t)rng_u32(key, 0, (uint64_t)i) << 32 | rng_u32(key, 1, (uint64_t)i);
        long j = (long)(r % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    int rc = 0;
    for (long k = 0; k < n && b->n < want && b->reads < budget && !rc; k++)
        for (int c = 0; c < ds_text_count(ds, order[k]) && b->n < want && !rc; c++, b->reads++) {
            real *row = b->emb + (size_t)b->n * E;
            if ((rc = ds_read_emb(ds, order[k], c, row, e))) break;
            uint64_t h = bow_fnv1a64((const char *)row, (size_t)E * sizeof(real));
            if (!h) h = 1;
            size_t slot = h & (cap - 1);
            int seen = 0;
            for (; table[slot] && !seen; slot = (slot + 1) & (cap - 1))
                seen = table[slot] == h;   // a 64-bit hash: equal hashes are taken as equal rows
            if (seen) continue;
            table[slot] = h;
            double ss = 0;
            for (int d = 0; d < E; d++) ss += (double)row[d] * row[d];
            b->inv_norm[b->n] = ss > 0 ? (float)(1 / sqrt(ss)) : 0;
            if (L > 0) memcpy(b->labels + (size_t)b->n * L, ds_labels(ds, order[k]), (size_t)L * sizeof(int32_t));
            b->n++;
        }
    free(order), free(table);
    if (rc) capbank_free(b);
    return rc ? -1 : 0;
}

int capbank_nearest_other(const CapBank *b, const real *q, const int32_t *lab, int col) {
    if (!b->labels || col < 0 || col >= b->L) return -1;
    int best = -1;
    float best_sim = -INFINITY;
    for (int m = 0; m < b->n; m++) {
        const int32_t *lm = b->labels + (size_t)m * b->L;
        int other = lm[col] != lab[col];
        for (int k = 0; k < b->L && other; k++) other = k == col || lm[k] == lab[k];
        if (!other) continue;
        const real *r = b->emb + (size_t)m * b->E;
        // |q| is common to every row: the largest dot/|row| is the largest cosine. 16 partial sums: one
        // dependent chain of adds would cost ~10 ms a step (batch 8 x 2700 rows x 512)
        float part[16] = {0};
        int d = 0;
        for (; d + 16 <= b->E; d += 16)
            for (int k = 0; k < 16; k++) part[k] += (float)q[d + k] * (float)r[d + k];
        for (; d < b->E; d++) part[0] += (float)q[d] * (float)r[d];
        float dot = 0;
        for (int k = 0; k < 16; k++) dot += part[k];
        float sim = dot * b->inv_norm[m];
        if (sim > best_sim) best_sim = sim, best = m;
    }
    return best;
}
