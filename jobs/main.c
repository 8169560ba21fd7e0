// main: the `ratlip` command. Selects OpenBLAS's fast kernel before anything else runs, then
// dispatches to a subcommand.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/kernels.h"
#include "jobs/commands.h"

static const Command commands[] = {
    // entries are added as the subcommands land
    {"train", cmd_train, "train RATLIP (data-parallel under mpirun/srun); checkpoints, metrics, samples"},
    {"sample", cmd_sample, "images from a trained generator for given captions"},
    {"config", cmd_config, "print the resolved configuration (defaults, file, --set)"},
    {"ckpt", cmd_ckpt, "inspect (info), check (verify), compare (diff) or export (torch) checkpoints"},
    {"data", cmd_data, "make (synth), check (verify) or import a dataset of HDF5 shards"},
    {"text-embed", cmd_text_embed, "embed captions with the built-in bow text encoder"},
    {"clip", cmd_clip, "train the CLIP image tower on the dataset's captions (LiT): clip train --out CLIP.h5"},
    {"sweep", cmd_sweep, "expand a sweep spec into numbered trial configs (for slurm/sweep.sbatch)"},
    {"eval", cmd_eval, "FID, KID and CLIP score of a checkpoint (distributed, rank 0 coordinating)"},
    {"fid", cmd_fid, "FID between two statistics files of `ratlip data stats`"},
    {"analyze", cmd_analyze, "table of runs: swept keys, steps, last/best FID/KID/CLIP, status"},
};
static const int n_commands = (int)(sizeof(commands) / sizeof(commands[0]));

// Debian's OpenBLAS 0.3.21 does not know newer Xeons and falls back to its slow Prescott kernels.
// OpenBLAS reads OPENBLAS_CORETYPE when the library loads (before main), so the only way to change
// it from inside is to set it and re-exec ourselves. A value the user set is never touched; the
// re-exec happens once (guarded) and before MPI_Init, so launchers see one process.
static void select_fast_blas_kernel(char **argv) {
    if (getenv("RATLIP_BLAS_SELECTED")) return;
    const char *want = NULL;
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : kern_blas_corename();
    if (core && (!strcmp(core, "Prescott") || !strcmp(core, "Core2") || !strcmp(core, "Nehalem"))) {
        __builtin_cpu_init();  // OpenBLAS did not recognise the CPU: pick its kernel
        want = __builtin_cpu_supports("avx512f") ? "SkylakeX" : __builtin_cpu_supports("avx2") ? "Haswell" : NULL;
    }
    int env_set = kern_startup_env();  // OMP_WAIT_POLICY for oneDNN's threads (core/kernels.h), when missing
    if (!want && !env_set) return;
    if (want) {
        setenv("OPENBLAS_CORETYPE", want, 1);
        setenv("RATLIP_BLAS_SELECTED", want, 1);
    }
    execv("/proc/self/exe", argv);
    // exec failed: carry on with the slow kernel, the banner will say which one it is
    if (want) unsetenv("OPENBLAS_CORETYPE");
}

void jobs_print_banner(const char *what) {
    const char *sel = getenv("RATLIP_BLAS_SELECTED");
    printf("ratlip %s (git %s) %s | BLAS kernel %s (%s) | %d BLAS thread%s\n", RATLIP_VERSION, RATLIP_GIT_REV, what,
           kern_backend_name(), sel ? "selected by ratlip" : getenv("OPENBLAS_CORETYPE") ? "OPENBLAS_CORETYPE" : "auto",
           kern_get_threads(), kern_get_threads() == 1 ? "" : "s");
    fflush(stdout);
}

static void usage(FILE *f) {
    fprintf(f, "usage: ratlip <command> [options]   (ratlip <command> --help for its options)\n\ncommands:\n");
    for (int i = 0; i < n_commands; i++) fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    select_fast_blas_kernel(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ratlip %s (git %s)\n", RATLIP_VERSION, RATLIP_GIT_REV);
        return 0;
    }
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ratlip: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
