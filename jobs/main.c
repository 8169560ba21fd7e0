// main: the `ratlip` command. Selects OpenBLAS's fast kernel before anything else runs, then
// dispatches to a subcommand.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/kernels.h"
#include "jobs/blas_select.h"
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

void jobs_print_banner(const char *what) {
    const char *sel = getenv("RATLIP_BLAS_SELECTED");
    printf("ratlip %s (git %s) %s | BLAS kernel %s (%s) | %d BLAS thread%s\n", RATLIP_VERSION, RATLIP_GIT_REV, what,
           kern_backend_name(), sel ? "selected by ratlip" : getenv("OPENBLAS_CORETYPE") ? "OPENBLAS_CORETYPE" : "auto",
           kern_get_threads(), kern_get_threads() == 1 ? "" : "s");
    printf("%s\n", kern_cpu_line());
    const char *note = blas_take_note();   // once per process
    if (note[0]) printf("%s\n", note);
    fflush(stdout);
}

// The commands that compute (and print the banner): only they pay for blas_check_forced_core.
static int command_computes(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (jobs_is_help(argv[i])) return 0;
    static const char *const names[] = {"train", "sample", "eval", "clip", "fid", NULL};
    for (const char *const *p = names; *p; p++)
        if (!strcmp(argv[1], *p)) return 1;
    return !strcmp(argv[1], "data") && argc > 2 &&
           (!strcmp(argv[2], "synth") || !strcmp(argv[2], "import") || !strcmp(argv[2], "stats"));
}

static void usage(FILE *f) {
    fprintf(f, "usage: ratlip <command> [options]   (ratlip <command> --help for its options)\n\ncommands:\n");
    for (int i = 0; i < n_commands; i++) fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (getenv("RATLIP_GEMM_PROBE")) return blas_probe_child();  // before anything else: a child of main
    blas_select_fast_kernel(argv);
    // a file-size limit (ulimit -f) then fails a write with EFBIG, which every writer reports with the
    // file's name, instead of killing the process with a core dump
    signal(SIGXFSZ, SIG_IGN);
    if (argc >= 2 && !strcmp(argv[1], "--bench-blas")) return blas_bench(argc, argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ratlip %s (git %s)\n", RATLIP_VERSION, RATLIP_GIT_REV);
        return 0;
    }
    if (command_computes(argc, argv)) blas_check_forced_core();  // before any MPI_Init: it starts a process
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ratlip: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
