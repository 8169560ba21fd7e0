// opfamily: the op-family filter of the op test programs in tests/core (parity against PyTorch and
// finite differences), so that the test of an op is found by its name: ctest registers, per family,
// op_<family>_parity and op_<family>_fd side by side (`ctest -R conv`).
//   prog [FIXED ARGS] [FAMILY]   only FAMILY's cases; without FAMILY every case (the kernel matrix)
//   prog --families              the families, one a line (ctest's op_families checks them against
//                                the list tests/core/CMakeLists.txt registers, so no case goes unrun)
// An unknown family is an error that lists the known ones. Header-only: the finite-difference programs
// link only the double core.
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const *of_known;
static int of_n_known;
static const char *of_only;   // NULL: every family

// argv[1..n_fixed] are the program's own arguments, argv[n_fixed + 1] the optional family. Returns -1
// when main goes on to run the cases, else the status main returns (0 after --families).
static inline int of_parse(int argc, char **argv, int n_fixed, const char *const *known, int n_known) {
    of_known = known, of_n_known = n_known;
    if (argc == 2 && !strcmp(argv[1], "--families")) {
        for (int i = 0; i < n_known; i++) printf("%s\n", known[i]);
        return 0;
    }
    if (argc < n_fixed + 1 || argc > n_fixed + 2) {
        fprintf(stderr, "usage: %s%s [FAMILY] | --families\n", argv[0], n_fixed ? " REFERENCE.h5" : "");
        return 2;
    }
    if (argc == n_fixed + 1) return -1;
    for (int i = 0; i < n_known; i++)
        if (!strcmp(argv[n_fixed + 1], known[i])) {
            of_only = known[i];
            return -1;
        }
    fprintf(stderr, "%s: unknown op family '%s'; known:", argv[0], argv[n_fixed + 1]);
    for (int i = 0; i < n_known; i++) fprintf(stderr, " %s", known[i]);
    fprintf(stderr, "\n");
    return 2;
}

// Whether the cases of `family` run. A family missing from the program's list is a bug of the test
// (its cases would run in no op_ test): it ends the program.
static inline int of_want(const char *family) {
    int listed = 0;
    for (int i = 0; i < of_n_known; i++) listed |= !strcmp(family, of_known[i]);
    if (!listed) {
        fprintf(stderr, "FAIL: op family '%s' is not in the program's list\n", family);
        exit(2);
    }
    return !of_only || !strcmp(of_only, family);
}
