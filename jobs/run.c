#include "jobs/run.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "core/kernels.h"
#include "core/stopsig.h"
#include "dist/sync.h"
#include "dist/watch.h"
#include "io/fs.h"
#include "jobs/commands.h"

extern char **environ;

double run_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---------------------------------------------------------------- messages, status, agreement

void run_say(Run *r, const char *fmt, ...) {
    if (r->dp.rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    if (r->log) {
        va_start(ap, fmt);
        vfprintf(r->log, fmt, ap);
        va_end(ap);
        fflush(r->log);
    }
}

// run_dir/status: "running", "finished", "failed", "preempted", "stalled" (rank 0). A status that
// cannot be written (no run directory yet) is not worth failing for.
static void run_status(Run *r, const char *status) {
    if (r->dp.rank != 0 || !r->run_dir[0]) return;
    char path[1100], text[32];
    snprintf(path, sizeof path, "%s/status", r->run_dir);
    int n = snprintf(text, sizeof text, "%s\n", status);
    fs_write_atomic(path, text, (size_t)n, NULL);
}

int run_agree(Run *r, int rc, Err *e) {
    (void)r;
    return dp_agree(rc, dp_get_timeout(), e);
}

// Called by dist just before a stall ends the job: the status file and the log say so.
static void on_stall(void *ctx, const char *msg) {
    Run *r = ctx;
    if (r->log) fprintf(r->log, "stalled: %s\n", msg), fflush(r->log);
    run_status(r, "stalled");
}

static int every(long n, int64_t step) { return n > 0 && step % n == 0; }

// ---------------------------------------------------------------- set-up

// Rank 0 resolves the config (defaults, file, --set, the command line) and broadcasts it.
static int setup_config(Run *r, const RunTask *task, const RunArgs *a, Err *e) {
    int rc = 0;
    char *json = NULL;
    if (r->dp.rank == 0) {
        rc = config_resolve(&r->cfg, a->config_file, a->n_sets, a->sets, e);
        if (!rc && a->data_dir) snprintf(r->cfg.data.dir, sizeof r->cfg.data.dir, "%s", a->data_dir);
        if (!rc) rc = task->configure(task->self, &r->cfg, a, e);
        if (!rc && !r->cfg.data.dir[0])
            rc = err_set(e, "data.dir is empty: pass --data DIR (make a dataset with `ratlip data synth --out DIR`)");
        if (!rc) json = config_to_json(&r->cfg);
    }
    if (run_agree(r, rc, e)) return -1;
    rc = dp_broadcast_string(json, 0, &r->config_json, e);
    free(json);
    if (rc || config_from_json_string(&r->cfg, r->config_json, "config broadcast from rank 0", e)) return -1;
    dp_set_timeout(r->cfg.dist.timeout_s);
    task->schedule(task->self, &r->cfg, &r->sched);
    return 0;
}

// Rank 0: temporaries a killed writer left (a checkpoint, metrics.h5, a sample grid) are garbage: no
// writer of this run is running yet. Removing them keeps a preempted run's directory from growing.
static int remove_stale_tmp(Run *r, Err *e) {
    char dirs[2][1100], removed[512];
    snprintf(dirs[0], sizeof dirs[0], "%s", r->run_dir);
    snprintf(dirs[1], sizeof dirs[1], "%s/samples", r->run_dir);
    for (int i = 0; i < 2; i++) {
        int n = 0;
        if (fs_remove_stale_tmp(dirs[i], removed, sizeof removed, &n, e)) return -1;
        if (n) run_say(r, "removed %d stale temporary file%s in %s (left by a killed run): %s\n", n, n == 1 ? "" : "s",
                       dirs[i], removed);
    }
    return 0;
}

// Rank 0: the run directory, its log and the resolved config.
static int setup_run_dir(Run *r, const RunTask *task, Err *e) {
    int rc = 0;
    char path[1100];
    if (r->dp.rank == 0) {
        rc = fs_mkdir_p(r->run_dir, e);
        snprintf(path, sizeof path, "%s/train.log", r->run_dir);
        if (!rc && !(r->log = fopen(path, "a"))) rc = err_set(e, "%s: cannot open for writing", path);
        snprintf(path, sizeof path, "%s/config.json", r->run_dir);
        if (!rc) rc = fs_write_atomic(path, r->config_json, strlen(r->config_json), e);
    }
    if (run_agree(r, rc, e)) return -1;
    run_status(r, "running");
    char what[320];
    snprintf(what, sizeof what, "%s | %s", task->name, r->dp.startup);
    if (r->dp.rank == 0) jobs_print_banner(what);
    if (r->log) fprintf(r->log, "ratlip %s | BLAS %s | %s\n", task->name, kern_backend_name(), r->dp.startup);
    if (r->dp.n_nodes > 1) run_say(r, "%s\n", r->dp.nodes);   // one node: the start-up line says it all
    return run_agree(r, r->dp.rank == 0 ? remove_stale_tmp(r, e) : 0, e);
}

// The model's side S against the splits' stored sides: train >= S (the reader crops S from it), test = S.
static int check_sizes(Run *r, int image_size, const char *size_key, int embed_dim, const char *dim_key, Err *e) {
    const char *dir = r->cfg.data.dir;
    const int Tr = ds_info(r->train)->image_size, Te = r->test ? ds_info(r->test)->image_size : 0;
    if (!image_size) {   // the dataset's own: its test side, else its train side
        r->image_size = Te ? Te : Tr;
        return r->test ? ds_check_sides(dir, ds_info(r->train), ds_info(r->test), e) : 0;
    }
    r->image_size = image_size;
    if (Tr < image_size)
        return err_set(e, "%s: the train images are %dx%d, smaller than %s %d (hint: import the dataset with "
                          "--size %d; the train split may be stored larger, never smaller)", dir, Tr, Tr, size_key,
                       image_size, image_size);
    return r->test ? ds_check_test_split(dir, ds_info(r->test), image_size, size_key, embed_dim, dim_key, e) : 0;
}

// The sides, then the augmentation they imply: a train split stored larger is cropped at random (io/reader.h),
// which data.random_crop's edge-padded jitter must not add to.
static int check_data(Run *r, int image_size, const char *size_key, int embed_dim, const char *dim_key, Err *e) {
    if (check_sizes(r, image_size, size_key, embed_dim, dim_key, e)) return -1;
    const int Tr = ds_info(r->train)->image_size, S = r->image_size;
    if (Tr > S && r->cfg.data.random_crop)
        return err_set(e, "%s: data.random_crop is %d, but the train images are stored at %dx%d for a random %dx%d "
                          "crop already (upstream's augmentation, `data import --train-size`): set data.random_crop=0",
                       r->cfg.data.dir, r->cfg.data.random_crop, Tr, Tr, S, S);
    return 0;
}

int run_open_data(Run *r, int batch_per_rank, const char *batch_key, int embed_dim, const char *dim_key, int image_size,
                  const char *size_key, Err *e) {
    const char *dir = r->cfg.data.dir;
    r->batch_per_rank = batch_per_rank;
    int rc = ds_open(&r->train, dir, "train", e);
    if (!rc) rc = ds_check_embed_dim(dir, ds_info(r->train), embed_dim, dim_key, e);
    if (!rc && ds_size(r->train) < (long)batch_per_rank * r->dp.size)
        rc = err_set(e, "%s: %ld training images, fewer than one global batch (%d ranks x %s %d)", dir,
                     ds_size(r->train), r->dp.size, batch_key, batch_per_rank);
    Err ignore;
    if (!rc && ds_has_split(dir, "test", &ignore) == 1) rc = ds_open(&r->test, dir, "test", e);
    if (!rc) rc = check_data(r, image_size, size_key, embed_dim, dim_key, e);
    if (run_agree(r, rc, e)) return -1;
    // every rank must see the same dataset (a stale shard on one node's scratch disk is an error)
    const DsInfo *in = ds_info(r->train);
    char fp[512];
    snprintf(fp, sizeof fp, "%d shards, %ld images, %dx%d, K=%d, D=%d, encoder %s", ds_num_shards(r->train),
             ds_size(r->train), in->image_size, in->image_size, in->n_captions, in->embed_dim, in->text_encoder);
    if (dp_check_same_string("training dataset", fp, e)) return -1;
    run_say(r, "data: %s/train: %s\n", dir, fp);
    return 0;
}

// libhdf5 1.10 crashes (SIGSEGV inside the library) on some damaged files instead of returning an
// error (tests/fuzz found many). So a candidate checkpoint is first read by a child process, `ratlip
// ckpt verify` (every tensor, checksums): one that kills its reader is renamed <name>.crashed and
// skipped; one the child finds damaged is skipped too, with the child's verdict. Costs one extra read
// of the newest checkpoint per resume.
static int precheck_in_child(const char *path, void *ctx, char *why, size_t why_size) {
    (void)ctx;
    char *const argv[] = {"ratlip", "ckpt", "verify", (char *)path, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t at;   // the child gets the signal mask from before stopsig_block
    posix_spawnattr_init(&at);
    posix_spawnattr_setsigmask(&at, stopsig_child_mask());
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) return 0;   // cannot check: load it here as before
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    if (WIFSIGNALED(st)) {
        char aside[1200];
        snprintf(aside, sizeof aside, "%s.crashed", path);
        int moved = rename(path, aside) == 0;
        snprintf(why, why_size, "reading it crashed libhdf5 (signal %d in `ratlip ckpt verify`)%s", WTERMSIG(st),
                 moved ? "; kept as <name>.crashed" : "");
    } else {
        snprintf(why, why_size, "`ratlip ckpt verify %s` says it is damaged (exit %d)", path,
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    return -1;
}

// Rank 0: the checkpoint to resume from into nets and res->meta.
static int load_checkpoint(Run *r, const char *resume, CkptNet *nets, int n, RunResume *res, Err *e) {
    char path[1100] = "", report[4096] = "";
    int found;
    if (!strcmp(resume, "auto")) {
        found = ckpt_find_latest_prechecked(r->run_dir, nets, n, &res->meta, path, sizeof path, precheck_in_child,
                                            NULL, report, sizeof report, e);
        if (report[0]) run_say(r, "resume: skipped checkpoints:\n%s", report);
    } else {
        snprintf(path, sizeof path, "%s", resume);
        found = ckpt_load(path, nets, n, &res->meta, e) ? -1 : 1;
    }
    ckpt_meta_free(&res->meta);   // the config is this run's (rank 0 resolved it above)
    res->found = found == 1;
    if (found == 1)
        run_say(r, "resume: %s (step %lld), written by %lld rank%s\n", path, (long long)res->meta.step,
                (long long)res->meta.world_size, res->meta.world_size == 1 ? "" : "s");
    else if (found == 0)
        run_say(r, "resume: no checkpoint in %s, starting fresh\n", r->run_dir);
    return found < 0 ? -1 : 0;
}

// Fresh start or resume: rank 0 loads, then its state is broadcast everywhere and verified.
static int setup_resume(Run *r, const RunTask *task, const char *resume, RunResume *res, Err *e) {
    CkptNet nets[RUN_MAX_NETS];
    int n = task->nets(task->self, nets);
    memset(res, 0, sizeof *res);
    int rc = r->dp.rank == 0 && resume ? load_checkpoint(r, resume, nets, n, res, e) : 0;
    if (run_agree(r, rc, e)) return -1;
    if (dp_bcast_bytes(res, (int)sizeof *res, 0, "resume: broadcast of the checkpoint's position", e)) return -1;
    res->meta.config_json = NULL;   // rank 0's pointer, meaningless here
    r->step = r->start_step = res->found ? res->meta.step : 0;
    int64_t was = res->meta.world_size, B = r->batch_per_rank, W = r->dp.size;
    if (res->found && was != W)
        run_say(r, "resume: checkpoint from %lld ranks, now %lld: the global batch is %lld x %lld = %lld (was %lld); "
                   "the data order continues from the next whole global batch\n",
                (long long)was, (long long)W, (long long)W, (long long)B, (long long)(W * B), (long long)(was * B));
    for (int i = 0; i < n; i++)
        if (dp_broadcast_params(nets[i].ps, 0, e)) return -1;
    for (int i = 0; i < n; i++)
        if (dp_check_replicas(nets[i].ps, nets[i].name, e)) return -1;
    return 0;
}

// This rank's reader, where the checkpoint left it (or at the start).
static int open_reader(Run *r, const RunResume *res, Err *e) {
    const Config *c = &r->cfg;
    ReaderOptions ro = {.seed = (uint64_t)c->train.seed, .rank = r->dp.rank, .world = r->dp.size,
                        .local_batch = r->batch_per_rank, .prefetch = c->data.prefetch, .out_size = r->image_size,
                        .crop_pad = c->data.random_crop, .flip = c->data.random_flip};
    ReaderState start = {res->found ? res->meta.reader_epoch : 0, res->found ? res->meta.reader_cursor : 0};
    int rc = reader_open(&r->reader, r->train, &ro, start, e);
    if (rc) return rc;
    char aug[160];
    reader_describe(r->reader, aug, sizeof aug);
    run_say(r, "augment: %s\n", aug);
    return reader_batch_alloc(&r->batch, r->reader);
}

// The data reader continues where the checkpoint left it; metrics.h5 drops rows past the resume step.
static int setup_reader_metrics(Run *r, const RunResume *res, Err *e) {
    int rc = open_reader(r, res, e);
    if (!rc && r->dp.rank == 0) {
        char path[1100];
        snprintf(path, sizeof path, "%s/metrics.h5", r->run_dir);
        char note[2400];
        r->metrics = metrics_open_or_rebuild(path, note, sizeof note, e);
        if (note[0]) run_say(r, "metrics: %s\n", note);
        // rows past the start are from a run that died later (or a fresh start over an old run): drop
        // them so every step appears once
        if (!r->metrics) rc = -1;
        else rc = metrics_truncate_after(r->metrics, r->start_step + 1, e);
    }
    return run_agree(r, rc, e);
}

static int run_setup(Run *r, const RunTask *task, const RunArgs *a, Err *e) {
    snprintf(r->run_dir, sizeof r->run_dir, "%s", a->run_dir);
    r->ckpt_step = -1;
    if (setup_config(r, task, a, e)) return -1;
    const Config *c = &r->cfg;
    if (r->dp.rank == 0 && c->train.ckpt_async) r->writer = ckpta_new();   // NULL (no memory): written directly
    kern_set_threads(a->threads > 0 ? r->dp.threads : c->train.threads > 0 ? c->train.threads : r->dp.threads);
    if (setup_run_dir(r, task, e)) return -1;
    if (run_agree(r, task->init(task->self, r, e), e)) return -1;
    RunResume res;
    if (setup_resume(r, task, a->resume, &res, e) || setup_reader_metrics(r, &res, e)) return -1;
    if (task->restore) task->restore(task->self, r, &res);
    if (run_agree(r, task->start(task->self, r, &res, e), e)) return -1;
    if (r->writer) {   // the staging buffers now, not at the first checkpoint
        CkptNet nets[RUN_MAX_NETS];
        int n = task->nets(task->self, nets);
        if (ckpta_reserve(r->writer, nets, n))
            run_say(r, "checkpoint: no memory for the staging copy now; the first checkpoint will try again\n");
    }
    r->t_start = run_now_s();
    return 0;
}

// ---------------------------------------------------------------- the loop

// Rank 0: a background checkpoint write that finished says so; a failed one is remembered until the
// next agreement point (writer_rc), which fails the run with it: its error names the file, and the
// earlier checkpoints are untouched.
static void collect_write(Run *r, const CkptAsyncDone *d) {
    if (!d->collected) return;
    if (!d->failed) {
        char waited[64] = "";
        if (d->wait_s >= 0.05) snprintf(waited, sizeof waited, "; the run waited %.1f s for it", d->wait_s);
        run_say(r, "checkpoint: %s (staged in %.2f s, written in the background in %.1f s%s)\n", d->path,
                r->ckpt_stage_s, d->write_s, waited);
        return;
    }
    r->write_failed = 1;
    snprintf(r->write_err, sizeof r->write_err, "checkpoint of step %lld not written: %s (the earlier checkpoints "
             "are kept)", (long long)d->step, d->msg);
    run_say(r, "%s\n", r->write_err);
}

static void poll_writer(Run *r) {
    if (!r->writer) return;
    CkptAsyncDone d;
    ckpta_poll(r->writer, &d);
    collect_write(r, &d);
}

// Rank 0: waits for the write in flight; -1 (e set) when it, or an earlier one, failed.
static int drain_writer(Run *r, Err *e) {
    if (r->writer) {
        CkptAsyncDone d;
        ckpta_wait(r->writer, &d);
        collect_write(r, &d);
    }
    return r->write_failed ? err_set(e, "%s", r->write_err) : 0;
}

// Rank 0 writes ckpt-<step>.h5 and applies retention; every rank agrees on the outcome. With
// train.ckpt_async rank 0 only stages a copy here and a thread writes it while training goes on
// (io/ckpt_async.h); its "checkpoint:" line comes when the file is complete.
static int run_checkpoint(Run *r, const RunTask *task, Err *e) {
    int rc = 0;
    if (r->dp.rank == 0) rc = drain_writer(r, e);   // one write at a time
    if (!rc && r->dp.rank == 0) {
        CkptNet nets[RUN_MAX_NETS];
        int n = task->nets(task->self, nets);
        CkptMeta meta;
        memset(&meta, 0, sizeof meta);
        ReaderState rs = reader_state(r->reader);
        meta.step = r->step;
        meta.epoch = meta.reader_epoch = rs.epoch;
        meta.reader_cursor = rs.cursor;
        meta.seed = r->cfg.train.seed;
        meta.config_json = r->config_json;
        meta.world_size = r->dp.size;
        snprintf(meta.ratlip_version, sizeof meta.ratlip_version, "%s", RATLIP_VERSION);
        snprintf(meta.git_rev, sizeof meta.git_rev, "%s", RATLIP_GIT_REV);
        task->save_meta(task->self, r, &meta);
        char path[1100];
        ckpt_path(path, sizeof path, r->run_dir, r->step);
        const char *best = r->best_ckpt[0] ? r->best_ckpt : NULL;
        double t0 = run_now_s();
        if (r->writer) {
            rc = ckpta_begin(r->writer, path, nets, n, &meta, r->run_dir, r->cfg.train.keep_last, best, e);
            r->ckpt_stage_s = run_now_s() - t0;
        } else {
            rc = ckpt_save(path, nets, n, &meta, e);
            if (!rc && ckpt_retain(r->run_dir, r->cfg.train.keep_last, best, e) < 0) rc = -1;
            if (!rc) run_say(r, "checkpoint: %s (written in %.1f s)\n", path, run_now_s() - t0);
        }
    }
    if (run_agree(r, rc, e)) return -1;
    r->ckpt_step = r->step;
    return 0;
}

// Any rank got SIGUSR1/SIGTERM: all stop here with one checkpoint of this step, on disk before exit.
static int run_preempt(Run *r, const RunTask *task, Err *e) {
    // a checkpoint still being written is finished first (e.g. the signal came during its write)
    if (run_agree(r, r->dp.rank == 0 ? drain_writer(r, e) : 0, e)) return 1;
    int written = r->ckpt_step == r->step;
    run_say(r, "stop requested (signal): %s step %lld and exiting with status %d\n",
            written ? "already checkpointed at" : "checkpointing at", (long long)r->step, RATLIP_EXIT_PREEMPTED);
    if (!written && run_checkpoint(r, task, e)) return 1;
    if (run_agree(r, r->dp.rank == 0 ? drain_writer(r, e) : 0, e)) return 1;
    run_status(r, "preempted");
    return RATLIP_EXIT_PREEMPTED;
}

// The hooks due after step r->step, in order: log, check, eval, checkpoint, samples.
static int after_step(Run *r, const RunTask *task, Err *e) {
    const RunSchedule *s = &r->sched;
    void *self = task->self;
    int64_t k = r->step;
    int last = k == s->steps, best = 0;
    if (r->dp.rank == 0) poll_writer(r);
    if (every(s->log_every, k) || last) {
        int rc = task->progress(self, r, e);   // collective: every rank runs it
        if (!rc && r->write_failed) rc = err_set(e, "%s", r->write_err);   // a background write failed
        if (run_agree(r, rc, e)) return -1;
    }
    if ((every(s->check_every, k) || last) && run_agree(r, task->check(self, r, e), e)) return -1;
    if ((every(s->eval_every, k) || (last && s->eval_at_end)) && run_agree(r, task->eval(self, r, &best, e), e))
        return -1;
    if ((best || every(s->ckpt_every, k) || (last && s->ckpt_at_end)) && run_checkpoint(r, task, e)) return -1;
    if (task->samples && (every(s->sample_every, k) || (last && s->sample_every > 0)) &&
        run_agree(r, task->samples(self, r, e), e))
        return -1;
    return 0;
}

// ---------------------------------------------------------------- divergence watchdog

static int skips_at(const Run *r, int64_t step) {
    int n = 0;
    for (int i = 0; i < r->n_skips; i++) n += r->skip_steps[i] == step;
    return n;
}

// Step r->step + 1 diverged (every rank is here; e says why) and was not applied. Roll back to the
// newest checkpoint and skip that global batch from now on: the run stays a function of its config
// and data. Log line and a metrics.h5 /watchdog row (step, rollback_to) say so. More than
// train.max_rollbacks within train.rollback_window steps: stop (returns -1, e says why).
static int run_rollback(Run *r, const RunTask *task, Err *e) {
    const TrainConfig *tc = &r->cfg.train;
    int64_t bad = r->step + 1;
    char why[sizeof e->msg];
    snprintf(why, sizeof why, "%s", e->msg);
    int recent = 1;
    for (int i = 0; i < r->n_skips; i++) recent += r->skip_steps[i] > bad - tc->rollback_window;
    if (recent > tc->max_rollbacks || r->n_skips == RUN_MAX_SKIPS)
        return err_set(e, "step %lld diverged (%s): rollback %d within %d steps, more than train.max_rollbacks %d: "
                          "stopping (hint: lower train.lr_g / train.lr_d, check the data with `ratlip data verify`, "
                          "or resume from an earlier checkpoint with --resume FILE)",
                       (long long)bad, why, recent, tc->rollback_window, tc->max_rollbacks);
    r->skip_steps[r->n_skips++] = bad;
    run_say(r, "watchdog: step %lld diverged (%s): rolling back to the last checkpoint; the global batch of step %lld "
               "will be skipped (rollback %d of at most %d within %d steps)\n",
            (long long)bad, why, (long long)bad, recent, tc->max_rollbacks, tc->rollback_window);
    RunResume res;
    if (run_agree(r, r->dp.rank == 0 ? drain_writer(r, e) : 0, e) || setup_resume(r, task, "auto", &res, e)) return -1;
    if (!res.found || r->step >= bad)
        return err_set(e, "step %lld diverged (%s) and there is no earlier checkpoint to roll back to (hint: lower "
                          "train.lr_g / train.lr_d, or checkpoint more often with train.ckpt_every)",
                       (long long)bad, why);
    if (task->restore) task->restore(task->self, r, &res);
    r->t_start = run_now_s();   // the ETA counts from here
    reader_close(r->reader);
    reader_batch_free(&r->batch);
    r->reader = NULL;
    int rc = open_reader(r, &res, e);
    if (!rc && r->dp.rank == 0) {
        const char *names[] = {"rollback_to"};
        double to = (double)r->step;
        rc = metrics_truncate_after(r->metrics, r->step + 1, e);
        if (!rc) rc = metrics_append(r->metrics, "watchdog", bad, 1, names, &to, e);
    }
    return run_agree(r, rc, e);
}

// Returns the exit status: 0 finished, 1 failed (e set), RATLIP_EXIT_PREEMPTED.
static int run_loop(Run *r, const RunTask *task, Err *e) {
    const RunSchedule *s = &r->sched;
    if (r->step == 0 && s->sample_every > 0 && task->samples && run_agree(r, task->samples(task->self, r, e), e))
        return 1;
    while (r->step < s->steps) {
        // all ranks agree on a stop request before anyone leaves the loop
        if (dp_first_rank(stopsig_received() != 0, dp_get_timeout(), "agreement on a stop request") >= 0)
            return run_preempt(r, task, e);
        for (int k = skips_at(r, r->step + 1); k > 0; k--) {   // the watchdog's skipped global batches
            run_say(r, "watchdog: skipping the global batch of step %lld\n", (long long)(r->step + 1));
            if (run_agree(r, reader_next(r->reader, &r->batch, e), e)) return 1;
        }
        int rc = task->step(task->self, r, e);
        if (rc == RUN_DIVERGED) {   // agreed inside the step: every rank is here
            if (run_rollback(r, task, e)) return 1;
            continue;
        }
        if (run_agree(r, rc, e) || after_step(r, task, e)) return 1;
    }
    // the last checkpoint is on disk before the run says it finished
    if (run_agree(r, r->dp.rank == 0 ? drain_writer(r, e) : 0, e)) return 1;
    if (run_agree(r, task->finish(task->self, r, e), e)) return 1;
    run_status(r, "finished");
    return 0;
}

static void run_free(Run *r) {
    Err ignore;
    if (r->metrics) metrics_close(r->metrics, &ignore);
    if (r->reader) reader_close(r->reader);
    reader_batch_free(&r->batch);
    if (r->train) ds_close(r->train);
    if (r->test) ds_close(r->test);
    free(r->config_json);
    if (r->log) fclose(r->log);
}

int run_main(const RunTask *task, const RunArgs *a, int *argc, char ***argv) {
    stopsig_block();   // before MPI_Init starts its threads: see core/stopsig.h
    Run *r = calloc(1, sizeof *r);
    Err e = {{0}};
    if (!r || dp_init(argc, argv, a->threads, &r->dp, &e)) {
        fprintf(stderr, "ratlip %s: %s\n", task->name, r ? e.msg : "out of memory");
        free(r);
        return 1;
    }
    if (stopsig_start()) {
        fprintf(stderr, "ratlip %s: cannot start the thread that receives SIGUSR1/SIGTERM (out of threads? check "
                        "ulimit -u)\n", task->name);
        dp_abort("no signal thread", 1);
    }
    dp_on_stall(on_stall, r);
    int status = run_setup(r, task, a, &e) ? 1 : run_loop(r, task, &e);
    if (status == 1) {   // a checkpoint being written is still a good one: let it land
        Err ignore;
        drain_writer(r, &ignore);
    }
    if (status == 1) {
        // after a timed-out collective MPI cannot finish cleanly: end the job as stalled (exit 4)
        if (dp_stalled()) dp_stall_abort(e.msg);
        fprintf(stderr, "ratlip %s: %s\n", task->name, e.msg);
        if (r->log) fprintf(r->log, "failed: %s\n", e.msg);
        run_status(r, "failed");
    }
    dp_on_stall(NULL, NULL);
    task->free(task->self);
    ckpta_free(r->writer);
    run_free(r);
    dp_finalize(&r->dp);
    free(r);
    return status;
}
