// cmd_train: `ratlip train`: the command line, then the GAN (jobs/trainer.c) under the run driver
// (jobs/run.c), one process per MPI rank.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jobs/commands.h"
#include "jobs/trainer.h"

static const char train_about[] =
    "Trains RATLIP. Run it under mpirun/srun for data parallelism: one process per rank, each with its\n"
    "own slice of every global batch (global batch = train.batch_per_rank x ranks).\n";
static const char train_epilog[] =
    "Every train.log_every steps rank 0 prints a progress line and appends to metrics.h5; every\n"
    "train.ckpt_every steps it writes ckpt-<step>.h5 (the last train.keep_last are kept; in the\n"
    "background while training goes on unless train.ckpt_async=false) and every\n"
    "train.sample_every steps samples/step-<step>.png. SIGUSR1 or SIGTERM (e.g. Slurm's --signal) makes all\n"
    "ranks stop at the next step boundary, write a checkpoint and exit with status 3 (preempted);\n"
    "rerun with --resume auto to continue bit-exactly. A rank that stalls or dies ends the job within\n"
    "dist.timeout_s with status 4 (stalled). A non-finite or exploding loss or gradient (train.loss_bound)\n"
    "rolls every rank back to the last checkpoint and skips that global batch; more than\n"
    "train.max_rollbacks within train.rollback_window steps stops the run (status 1).\n";
_Static_assert(RATLIP_EXIT_PREEMPTED == 3, "train_epilog says exit status 3");
_Static_assert(RATLIP_EXIT_STALLED == 4, "train_epilog says exit status 4");

int cmd_train(int argc, char **argv) {
    RunArgs a;
    memset(&a, 0, sizeof a);
    OptList set_list;
    const OptSpec opts[] = {
        OPT_PATH("config", 'c', &a.config_file, 0, "FILE", "JSON config (jobs/configs/tiny.json, paper.json); default: the tiny config"),
        OPT_LIST("set", 's', &set_list, "K=V", "override one key, e.g. --set train.lr_g=2e-4 (`ratlip config show`)"),
        OPT_PATH("data", 'd', &a.data_dir, 0, "DIR", "dataset directory (train-*.h5 shards; `ratlip data synth --out DIR` makes one)"),
        OPT_PATH("run-dir", 'r', &a.run_dir, OPT_REQ, "DIR", "where checkpoints, metrics.h5, samples/, train.log, config.json and status go"),
        OPT_PATH("resume", 'R', &a.resume, 0, "auto|CKPT",
                 "auto: continue from the newest checkpoint in --run-dir that loads cleanly (fresh if none);\n"
                 "CKPT: continue from that checkpoint file"),
        OPT_LONG("steps", 'n', &a.steps, 0, 1, 1000000000L, NULL, "N", "total iterations (overrides train.steps)"),
        OPT_INT("threads", 't', &a.threads, 0, 1, 1024, NULL, "N",
                "BLAS threads per rank (default: SLURM_CPUS_PER_TASK, OMP_NUM_THREADS, or cores/ranks)"),
        {0}};
    const OptCommand cmd = {"train", NULL, train_about, train_epilog, opts};
    int prc = opt_parse(&cmd, argc, argv);  // before MPI starts: a bad option never launches anything
    if (prc != OPT_CONTINUE) return prc;
    char **sets = set_list.v;
    a.sets = sets;
    a.n_sets = set_list.n;

    Trainer t;
    memset(&t, 0, sizeof t);
    RunTask task = trainer_task(&t);
    int status = run_main(&task, &a, &argc, &argv);
    free(sets);
    return status;
}
