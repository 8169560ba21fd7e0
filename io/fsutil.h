// fsutil: small file-system helpers shared by the commands (no HDF5 here).
#pragma once
#include "core/err.h"

// mkdir -p: creates dir and its missing parents (mode 0755). Error names the component that failed.
int fs_mkdir_p(const char *dir, Err *e);
