// commands: the `ratlip` subcommands. Each takes the arguments after its name (argv[0] is the
// subcommand) and returns the process exit status. Registered in jobs/main.c.
// Every command parses its arguments with jobs/options.h (one table per command; Command is there too).
#pragma once
#include "jobs/options.h"

// Start-up report every command that computes prints: version, git revision, BLAS kernel, threads.
void jobs_print_banner(const char *what);

int cmd_train(int argc, char **argv);      // jobs/cmd_train.c
int cmd_sample(int argc, char **argv);     // jobs/cmd_sample.c
int cmd_config(int argc, char **argv);   // jobs/cmd_config.c
int cmd_ckpt(int argc, char **argv);     // jobs/cmd_ckpt.c
int cmd_data(int argc, char **argv);       // jobs/cmd_data.c
int cmd_text_embed(int argc, char **argv); // jobs/cmd_text_embed.c
int cmd_clip(int argc, char **argv);       // jobs/cmd_clip.c
int cmd_sweep(int argc, char **argv);      // jobs/cmd_sweep.c
int cmd_analyze(int argc, char **argv);    // jobs/cmd_analyze.c
int cmd_eval(int argc, char **argv);       // jobs/cmd_eval.c
int cmd_fid(int argc, char **argv);        // jobs/cmd_eval.c
int cmd_data_stats(int argc, char **argv); // jobs/cmd_eval.c (`ratlip data stats`, dispatched by cmd_data)
