// test_fidstats: the reference-statistics file (io/fidstats.h) round trip, and what the reader refuses.
//   - write → read gives the moments, features and attributes back, inception_size included;
//   - a file without inception_size (made before the attribute existed, or by a tool that does not
//     write it) reads as 299, the size every such file was made at;
//   - an identity attribute longer than the reader keeps (network, weights_sha256) is refused naming the
//     file and the attribute, never cut: two different long weight ids cut to one prefix would compare
//     equal;
//   - a long source (npz_to_fidstats.py --source TEXT has no limit) comes back whole;
//   - an inception_size that is not a size Inception takes is refused naming the file and the attribute;
//   - fidstats_comparable tells statistics of other input sizes apart, and the default file name of a
//     size other than 299 says the size.
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/fidstats.h"
#include "io/h5util.h"
#include "testutil.h"

static char dir[64];

static void make(FidStats *s, int d, long n) {
    memset(s, 0, sizeof *s);
    s->d = d;
    s->n = n;
    s->n_feat = n;
    s->mu = malloc((size_t)d * sizeof(double));
    s->sigma = malloc((size_t)d * d * sizeof(double));
    s->feat = malloc((size_t)n * d * sizeof(real));
    for (int i = 0; i < d; i++) s->mu[i] = 0.5 + i;
    for (int i = 0; i < d * d; i++) s->sigma[i] = (i % (d + 1)) == 0 ? 2.0 : 0.25;
    for (long i = 0; i < n * d; i++) s->feat[i] = (real)(0.01 * (double)i);
    snprintf(s->network, sizeof s->network, "inception_fid");
    snprintf(s->weights_sha256, sizeof s->weights_sha256, "%064d", 7);
    s->inception_size = 299;
}

// Sets attribute name of file path to a string (or, when s is NULL, removes it).
static void set_attr(const char *path, const char *name, const char *s) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    TU_CHECK(f >= 0, "cannot open %s", path);
    if (s) TU_CHECK(h5u_attr_write_str(f, name, s) == 0, "cannot write %s", name);
    else TU_CHECK(H5Adelete(f, name) >= 0, "cannot remove %s", name);
    H5Fclose(f);
}

static void set_attr_i64(const char *path, const char *name, int64_t v) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    TU_CHECK(f >= 0 && h5u_attr_write_i64(f, name, v) == 0, "cannot write %s to %s", name, path);
    if (f >= 0) H5Fclose(f);
}

// fidstats_read refuses path; the message names the file and want.
static void refused(const char *path, const char *what, const char *want) {
    FidStats r;
    Err e = {{0}};
    int rc = fidstats_read(path, &r, &e);
    TU_CHECK(rc != 0 && strstr(e.msg, path) && strstr(e.msg, want), "%s: read %d, message '%s' (want the file and '%s')",
             what, rc, e.msg, want);
    if (rc == 0) fidstats_free(&r);
    else printf("ok   %s refused: %s\n", what, e.msg);
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(dir, sizeof dir, "/tmp/ratlip_fidstatsXXXXXX");
    if (!mkdtemp(dir)) return 1;
    char path[256], p2[256];
    snprintf(path, sizeof path, "%s/stats.h5", dir);
    Err e = {{0}};
    FidStats s, r;
    make(&s, 4, 3);
    s.inception_size = 107;
    char *long_source = malloc(3001);
    memset(long_source, 's', 3000);
    long_source[3000] = 0;
    s.source = long_source;
    TU_CHECK(fidstats_write(path, &s, &e) == 0, "write: %s", e.msg);

    // the round trip
    TU_CHECK(fidstats_read(path, &r, &e) == 0, "read: %s", e.msg);
    TU_CHECK(r.d == 4 && r.n == 3 && r.n_feat == 3 && !memcmp(r.mu, s.mu, 4 * sizeof(double)) &&
                 !memcmp(r.sigma, s.sigma, 16 * sizeof(double)) && !memcmp(r.feat, s.feat, 12 * sizeof(real)),
             "moments or features differ after the round trip");
    TU_CHECK(!strcmp(r.network, "inception_fid") && !strcmp(r.weights_sha256, s.weights_sha256),
             "network/weights: '%s' '%s'", r.network, r.weights_sha256);
    TU_CHECK(r.inception_size == 107, "inception_size %d after the round trip, wrote 107", r.inception_size);
    TU_CHECK(r.source && strlen(r.source) == 3000 && !strcmp(r.source, long_source), "source of 3000 characters "
             "came back as %zu", r.source ? strlen(r.source) : 0);
    char why[256];
    FidStats a = r;
    a.inception_size = 299;
    TU_CHECK(!fidstats_comparable(&a, &r, why, sizeof why) && strstr(why, "input size"),
             "statistics of input sizes 299 and 107 compare as comparable ('%s')", why);
    TU_CHECK(fidstats_comparable(&r, &r, why, sizeof why), "a file is not comparable with itself: %s", why);
    fidstats_free(&r);
    printf("ok   round trip: moments, features, network, weights, inception_size 107, a 3000-character source\n");

    // no inception_size attribute: 299
    set_attr(path, "inception_size", NULL);
    TU_CHECK(fidstats_read(path, &r, &e) == 0 && r.inception_size == 299, "without the attribute: rc, size %d (%s)",
             r.inception_size, e.msg);
    fidstats_free(&r);
    printf("ok   a file without inception_size reads as 299\n");

    // attributes the reader cannot keep whole, or sizes Inception does not take
    snprintf(p2, sizeof p2, "%s/copy.h5", dir);
    char *big = malloc(601);
    memset(big, 'a', 600);
    big[600] = 0;
    const struct {
        const char *name, *value;
        long size;
    } bad[] = {
        {"weights_sha256", big, 0},   // 600 characters: more than the 127 kept
        {"network", big, 0},          // more than the 31 kept
        {"inception_size", NULL, 74}, // below Inception-v3's smallest input
        {"inception_size", NULL, 100000},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        TU_CHECK(fidstats_write(p2, &s, &e) == 0, "write: %s", e.msg);
        if (bad[i].value) set_attr(p2, bad[i].name, bad[i].value);
        else set_attr_i64(p2, bad[i].name, bad[i].size);
        char what[96];
        snprintf(what, sizeof what, "%s %s", bad[i].name, bad[i].value ? "of 600 characters" : "out of range");
        refused(p2, what, bad[i].name);
    }

    // the default path: 299 keeps the old name, other sizes say theirs
    char d1[256], d2[256];
    fidstats_default_path(d1, sizeof d1, "D", "test", "inception_fid", 299);
    fidstats_default_path(d2, sizeof d2, "D", "test", "inception_fid", 107);
    TU_CHECK(!strcmp(d1, "D/fid-stats-test-inception_fid.h5"), "default path at 299: %s", d1);
    TU_CHECK(!strcmp(d2, "D/fid-stats-test-inception_fid-107px.h5"), "default path at 107: %s", d2);

    s.source = NULL;
    fidstats_free(&s);
    free(long_source);
    free(big);
    if (!tu_failures) {
        unlink(path);
        unlink(p2);
        rmdir(dir);
    }
    return tu_done("test_fidstats");
}
