// cmd_train: `ratlip train`, the data-parallel training driver (one process per MPI rank).
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jobs/commands.h"
#include "dist/sync.h"
#include "jobs/trainer.h"

static volatile sig_atomic_t stop_requested = 0;
static void on_stop_signal(int sig) { stop_requested = sig; }

static void usage(FILE *f) {
    fprintf(f,
            "usage: ratlip train [--config FILE] [--set section.key=value ...] --data DIR --run-dir DIR\n"
            "                    [--resume auto|CKPT] [--steps N] [--threads N]\n"
            "\n"
            "Trains RATLIP. Run it under mpirun/srun for data parallelism: one process per rank, each with its\n"
            "own slice of every global batch (global batch = train.batch_per_rank x ranks).\n"
            "\n"
            "  --config FILE     JSON config (jobs/configs/tiny.json, paper.json); default: the tiny config\n"
            "  --set k=v         override one key, e.g. --set train.lr_g=2e-4 (repeatable; `ratlip config show`)\n"
            "  --data DIR        dataset directory (train-*.h5 shards; `ratlip data synth --out DIR` makes one)\n"
            "  --run-dir DIR     where checkpoints, metrics.h5, samples/, train.log, config.json and status go\n"
            "  --resume auto     continue from the newest checkpoint in --run-dir that loads cleanly (fresh if none)\n"
            "  --resume CKPT     continue from that checkpoint file\n"
            "  --steps N         total iterations (overrides train.steps)\n"
            "  --threads N       BLAS threads per rank (default: SLURM_CPUS_PER_TASK, OMP_NUM_THREADS, or cores/ranks)\n"
            "\n"
            "Every train.log_every steps rank 0 prints a progress line and appends to metrics.h5; every\n"
            "train.ckpt_every steps it writes ckpt-<step>.h5 (the last train.keep_last are kept) and every\n"
            "train.sample_every steps samples/step-<step>.png. SIGUSR1 or SIGTERM (e.g. Slurm's --signal) makes all\n"
            "ranks stop at the next step boundary, write a checkpoint and exit with status %d (preempted);\n"
            "rerun with --resume auto to continue bit-exactly.\n",
            RATLIP_EXIT_PREEMPTED);
}

static int every(long n, int64_t step) { return n > 0 && step % n == 0; }

int cmd_train(int argc, char **argv) {
    TrainArgs a;
    memset(&a, 0, sizeof a);
    char **sets = calloc((size_t)argc + 1, sizeof(char *));
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 's'},
        {"data", required_argument, 0, 'd'},   {"run-dir", required_argument, 0, 'r'},
        {"resume", required_argument, 0, 'R'}, {"steps", required_argument, 0, 'n'},
        {"threads", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "c:s:d:r:R:n:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': a.config_file = optarg; break;
        case 's': sets[a.n_sets++] = optarg; break;
        case 'd': a.data_dir = optarg; break;
        case 'r': a.run_dir = optarg; break;
        case 'R': a.resume = optarg; break;
        case 'n': a.steps = atol(optarg); break;
        case 't': a.threads = atoi(optarg); break;
        case 'h': usage(stdout); free(sets); return 0;
        default: usage(stderr); free(sets); return 2;
        }
    }
    if (optind < argc || !a.run_dir) {
        fprintf(stderr, "ratlip train: %s\n", optind < argc ? "unexpected argument" : "--run-dir DIR is required");
        usage(stderr);
        free(sets);
        return 2;
    }
    a.sets = sets;

    Trainer *t = calloc(1, sizeof *t);
    Err e = {{0}};
    if (dp_init(&argc, &argv, a.threads, &t->dp, &e)) {
        fprintf(stderr, "ratlip train: %s\n", e.msg);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int status = 0;
    if (trainer_setup(t, &a, &e)) goto fail;
    const TrainConfig *tc = &t->cfg.train;
    if (t->step == 0 && tc->sample_every > 0 && trainer_agree(t, trainer_samples(t, &e), &e)) goto fail;
    while (t->step < tc->steps) {
        // all ranks agree on a stop request before anyone leaves the loop
        int mine = stop_requested != 0, any = 0;
        MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, t->dp.world);
        if (any) {
            trainer_say(t, "stop requested (signal): checkpointing at step %lld and exiting with status %d\n",
                        (long long)t->step, RATLIP_EXIT_PREEMPTED);
            if (trainer_checkpoint(t, &e)) goto fail;
            trainer_status(t, "preempted");
            status = RATLIP_EXIT_PREEMPTED;
            goto done;
        }
        if (trainer_agree(t, trainer_step(t, &e), &e)) goto fail;
        if ((every(tc->log_every, t->step) || t->step == tc->steps) && trainer_agree(t, trainer_log(t, &e), &e))
            goto fail;
        if (every(t->cfg.dist.check_every, t->step)) {
            // per-rank BatchNorm statistics differ by design unless model.sync_bn
            int (*check)(const ParamSet *, const char *, Err *) =
                t->cfg.model.sync_bn ? dp_check_replicas : dp_check_replicas_values;
            if (check(&t->gan.g.ps, "netG", &e) || check(&t->gan.dc.netd, "netD", &e) ||
                check(&t->gan.dc.netc, "netC", &e))
                goto fail;
        }
        int best = 0;
        if (t->has_eval && (every(tc->eval_every, t->step) || t->step == tc->steps) && trainer_eval(t, &best, &e))
            goto fail;
        if ((best || every(tc->ckpt_every, t->step) || t->step == tc->steps) && trainer_checkpoint(t, &e)) goto fail;
        if ((every(tc->sample_every, t->step) || (t->step == tc->steps && tc->sample_every > 0)) &&
            trainer_agree(t, trainer_samples(t, &e), &e))
            goto fail;
    }
    trainer_say(t, "done: %lld steps, run dir %s\n", (long long)t->step, t->run_dir);
    trainer_status(t, "finished");
    goto done;
fail:
    fprintf(stderr, "ratlip train: %s\n", e.msg);
    trainer_status(t, "failed");
    status = 1;
done:
    trainer_free(t);
    dp_finalize(&t->dp);
    free(t);
    free(sets);
    return status;
}
