#include "io/ckpt_async.h"
#include <hdf5.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CKPTA_MAX_NETS 8

struct CkptAsync {
    pthread_mutex_t mu;
    pthread_cond_t idle;
    pthread_t thread;
    int joinable;   // a thread was started and not yet joined
    int running;    // it has not finished writing
    // staging: one ParamSet per network with its own data and Adam buffers (specs shared: they do not
    // change after params_finalize)
    ParamSet staged[CKPTA_MAX_NETS];
    real *buf_data[CKPTA_MAX_NETS], *buf_m[CKPTA_MAX_NETS], *buf_v[CKPTA_MAX_NETS];
    size_t cap_data[CKPTA_MAX_NETS], cap_m[CKPTA_MAX_NETS], cap_v[CKPTA_MAX_NETS];
    char names[CKPTA_MAX_NETS][64];
    CkptNet nets[CKPTA_MAX_NETS];
    int n_nets;
    CkptMeta meta;   // config_json owned (strdup)
    char path[1100], retain_dir[1100], best[1100];
    int keep_last;
    CkptAsyncDone result;   // of the last finished write; result.collected = 1 until collected
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

CkptAsync *ckpta_new(void) {
    CkptAsync *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->idle, NULL);
    return w;
}

static void *writer_main(void *arg) {
    CkptAsync *w = arg;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);   // the error stack setting is per thread in thread-safe HDF5
    double t0 = now_s();
    Err e = {{0}};
    int rc = ckpt_save(w->path, w->nets, w->n_nets, &w->meta, &e);
    if (!rc && w->retain_dir[0] && ckpt_retain(w->retain_dir, w->keep_last, w->best[0] ? w->best : NULL, &e) < 0)
        rc = -1;
    pthread_mutex_lock(&w->mu);
    CkptAsyncDone *d = &w->result;
    if (d->collected && d->failed) {   // an earlier failure nobody collected yet is not overwritten
        w->running = 0;
        pthread_cond_broadcast(&w->idle);
        pthread_mutex_unlock(&w->mu);
        return NULL;
    }
    memset(d, 0, sizeof *d);
    d->collected = 1;
    d->failed = rc != 0;
    snprintf(d->path, sizeof d->path, "%s", w->path);
    d->step = w->meta.step;
    d->write_s = now_s() - t0;
    if (rc) snprintf(d->msg, sizeof d->msg, "%s", e.msg);
    w->running = 0;
    pthread_cond_broadcast(&w->idle);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

// Joins a finished thread and moves its result to *done (when given). Called with w->mu unlocked.
static void join_and_collect(CkptAsync *w, CkptAsyncDone *done) {
    if (w->joinable) {
        pthread_join(w->thread, NULL);
        w->joinable = 0;
    }
    pthread_mutex_lock(&w->mu);
    if (done) {
        *done = w->result;
        w->result.collected = 0;
    }
    pthread_mutex_unlock(&w->mu);
}

// Blocks until no write is running.
static void wait_idle(CkptAsync *w) {
    pthread_mutex_lock(&w->mu);
    while (w->running) pthread_cond_wait(&w->idle, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void ckpta_wait(CkptAsync *w, CkptAsyncDone *done) {
    if (done) memset(done, 0, sizeof *done);
    double t0 = now_s();
    wait_idle(w);
    double waited = now_s() - t0;
    join_and_collect(w, done);
    if (done && done->collected) done->wait_s = waited;
}

void ckpta_poll(CkptAsync *w, CkptAsyncDone *done) {
    memset(done, 0, sizeof *done);
    pthread_mutex_lock(&w->mu);
    int running = w->running;
    pthread_mutex_unlock(&w->mu);
    if (!running) join_and_collect(w, done);
}

static int grow(real **buf, size_t *cap, size_t n) {
    if (n <= *cap) return 0;
    real *p = realloc(*buf, n * sizeof(real));
    if (!p) return -1;
    *buf = p;
    *cap = n;
    return 0;
}


// Grows staging slot i to src's sizes; new pages are touched, so the first checkpoint's copy costs what
// every later one does. Returns whether src has Adam moments to stage, or -1 when out of memory.
static int reserve_net(CkptAsync *w, int i, const CkptNet *src) {
    const ParamSet *ps = src->ps;
    int with_adam = !src->no_adam && ps->n_trainable > 0 && ps->adam_m && ps->adam_v;
    size_t had[3] = {w->cap_data[i], w->cap_m[i], w->cap_v[i]};
    if (grow(&w->buf_data[i], &w->cap_data[i], ps->total) ||
        (with_adam && (grow(&w->buf_m[i], &w->cap_m[i], ps->n_trainable) ||
                       grow(&w->buf_v[i], &w->cap_v[i], ps->n_trainable))))
        return -1;
    if (w->cap_data[i] > had[0]) memset(w->buf_data[i], 0, w->cap_data[i] * sizeof(real));
    if (w->cap_m[i] > had[1]) memset(w->buf_m[i], 0, w->cap_m[i] * sizeof(real));
    if (w->cap_v[i] > had[2]) memset(w->buf_v[i], 0, w->cap_v[i] * sizeof(real));
    return with_adam;
}

int ckpta_reserve(CkptAsync *w, const CkptNet *nets, int n_nets) {
    if (n_nets > CKPTA_MAX_NETS) return -1;
    for (int i = 0; i < n_nets; i++)
        if (reserve_net(w, i, &nets[i]) < 0) return -1;
    return 0;
}

// Copies one network into staging slot i.
static int stage_net(CkptAsync *w, int i, const CkptNet *src) {
    const ParamSet *ps = src->ps;
    ParamSet *st = &w->staged[i];
    int with_adam = reserve_net(w, i, src);
    if (with_adam < 0) return -1;
    // the same table (specs, counts, adam_step) over the staging copies of the values
    *st = *ps;
    st->data = w->buf_data[i];
    st->adam_m = with_adam ? w->buf_m[i] : NULL;
    st->adam_v = with_adam ? w->buf_v[i] : NULL;
    st->grad = NULL;
    st->bind = NULL;
    st->ready_hook = NULL;
    st->ready_ctx = NULL;
    memcpy(st->data, ps->data, ps->total * sizeof(real));
    if (with_adam) {
        memcpy(st->adam_m, ps->adam_m, ps->n_trainable * sizeof(real));
        memcpy(st->adam_v, ps->adam_v, ps->n_trainable * sizeof(real));
    }
    snprintf(w->names[i], sizeof w->names[i], "%s", src->name);
    w->nets[i] = (CkptNet){.name = w->names[i], .ps = st, .no_adam = !with_adam};
    return 0;
}

int ckpta_begin(CkptAsync *w, const char *path, const CkptNet *nets, int n_nets, const CkptMeta *meta,
                const char *retain_dir, int keep_last, const char *best_name, Err *e) {
    if (n_nets > CKPTA_MAX_NETS)
        return err_set(e, "%s: %d networks, at most %d can be checkpointed in the background", path, n_nets,
                       CKPTA_MAX_NETS);
    // the previous write must be done before its staging buffers are reused; its result stays for
    // the next collection
    wait_idle(w);
    join_and_collect(w, NULL);
    for (int i = 0; i < n_nets; i++)
        if (stage_net(w, i, &nets[i]))
            return err_set(e, "%s: out of memory staging %s for a background checkpoint write (hint: "
                              "--set train.ckpt_async=false writes it directly, without the copy)", path, nets[i].name);
    w->n_nets = n_nets;
    free(w->meta.config_json);
    w->meta = *meta;
    w->meta.config_json = meta->config_json ? strdup(meta->config_json) : NULL;
    if (meta->config_json && !w->meta.config_json) return err_set(e, "%s: out of memory staging the config", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->retain_dir, sizeof w->retain_dir, "%s", retain_dir ? retain_dir : "");
    snprintf(w->best, sizeof w->best, "%s", best_name ? best_name : "");
    w->keep_last = keep_last;
    pthread_mutex_lock(&w->mu);
    w->running = 1;
    pthread_mutex_unlock(&w->mu);
    if (pthread_create(&w->thread, NULL, writer_main, w)) {
        pthread_mutex_lock(&w->mu);
        w->running = 0;
        pthread_mutex_unlock(&w->mu);
        // no thread: write here, as a synchronous checkpoint would
        writer_main(w);
        return 0;
    }
    w->joinable = 1;
    return 0;
}

void ckpta_free(CkptAsync *w) {
    if (!w) return;
    ckpta_wait(w, NULL);
    for (int i = 0; i < CKPTA_MAX_NETS; i++) {
        free(w->buf_data[i]);
        free(w->buf_m[i]);
        free(w->buf_v[i]);
    }
    free(w->meta.config_json);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->idle);
    free(w);
}
