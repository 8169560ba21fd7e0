// cpu: what the processor is and which vector units the kernels can use, from the cpuid instruction
// and xgetbv (no /proc, no file I/O), for the start-up line of every command and bench, and for
// telling when OPENBLAS_CORETYPE forces a slower OpenBLAS core than the CPU supports. Precision-
// independent; on a non-x86 machine every field says "unknown" / no.
#pragma once
#include <stddef.h>

typedef struct {
    int x86;             // 1 when the fields below were read with cpuid (0: other architecture)
    char vendor[13];     // "GenuineIntel", "AuthenticAMD", ... ("unknown" off x86)
    char brand[49];      // cpuid 0x80000002..4, leading and trailing blanks trimmed (= /proc "model name")
    // Usable: the CPU reports it and the OS saves the register state (XCR0), as /proc/cpuinfo's flags.
    int avx2;            // leaf 7 ebx bit 5, XCR0 SSE+AVX
    int avx512f;         // leaf 7 ebx bit 16, XCR0 opmask+ZMM
    int avx512_bf16;     // leaf 7 subleaf 1 eax bit 5 (with avx512f)
    // AMX: the CPU's bits, and whether the OS enabled the tile state (XCR0 bits 17-18). On Linux a
    // process must still ask for it (arch_prctl ARCH_REQ_XCOMP_PERM); oneDNN does that itself.
    int amx_tile;        // leaf 7 edx bit 24
    int amx_bf16;        // leaf 7 edx bit 22
    int amx_os;          // XCR0 bits 17 and 18 set
    int amx;             // amx_tile && amx_bf16 && amx_os: what "AMX yes" means
} CpuInfo;

// Fills *ci (cheap: a few cpuid instructions).
void cpu_detect(CpuInfo *ci);

// The fastest OpenBLAS core the CPU supports: "SkylakeX" with AVX-512, "Haswell" with AVX2, else NULL.
const char *cpu_best_blas_core(const CpuInfo *ci);
// Rank of an OpenBLAS core name (case-insensitive) by its vector width: 3 AVX-512 (SkylakeX,
// Cooperlake, SapphireRapids), 2 AVX2 (Haswell, Zen), 1 AVX (Sandybridge, Bulldozer family), 0
// anything else. A core with a lower rank than cpu_best_blas_core's is the slower one.
int cpu_blas_core_rank(const char *name);

// One line into buf (always terminated), e.g.
//   "cpu: Intel(R) Xeon(R) Processor @ 2.80GHz (GenuineIntel) | AVX-512 yes, avx512_bf16 no, AMX no |
//    oneDNN avx512_core_vnni | OpenBLAS SkylakeX (auto)"
// dnnl_isa: what oneDNN dispatches to (NULL: this build has no oneDNN); blas_core, blas_from: the
// OpenBLAS core in use and where it came from ("auto", "OPENBLAS_CORETYPE from the environment", ...).
void cpu_line(char *buf, size_t n, const CpuInfo *ci, const char *dnnl_isa, const char *blas_core,
              const char *blas_from);
