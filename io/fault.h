// fault: named fault-injection points for the reliability tests (tests/train/train_faults.py). A
// test sets, in the environment of every rank,
//   RATLIP_FAULT=POINT:N:ACTION     the N-th time (1-based, per process) POINT is reached, do ACTION
//   RATLIP_FAULT_RANK=R             only on MPI rank R (default: every rank)
// ACTION: kill (SIGKILL itself: a crash at exactly that moment), term (SIGTERM itself, as a scheduler
// would), stop (SIGSTOP itself: a rank that hangs), sleep (3 s: widens the window for a test that signals from outside), nan (the caller
// poisons a value; fault_point returns 1), nan-every (nan the N-th time and every time after). Unset, a point costs one getenv per call: they sit at
// checkpoint, metrics and step boundaries only, never inside a kernel.
// Points: startup (dist: before the start-up collectives), ckpt-write (after the first network of a checkpoint is written), ckpt-commit (the complete
// temporary, before its rename), metrics-create (metrics.h5.tmp created, before its rename),
// metrics-append (a row's values written, its step not yet), grad (trainer: after this rank's
// backward, before the allreduce; nan poisons a gradient), import-image (`data import`: an image written).
#pragma once

// Returns 1 when the point fired with action nan, else 0 (other actions act before returning).
int fault_point(const char *point);
// The MPI rank the launcher exported (mpirun, PMIx, PMI, srun), or -1 when none did: for code that
// must know its rank before MPI_Init or without MPI (io/ knows nothing of MPI).
int launcher_rank_from_env(void);
