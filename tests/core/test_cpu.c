// core/cpu.h against what Linux says about the same CPU (/proc/cpuinfo's first processor): vendor,
// model name, the AVX2 / AVX-512 / avx512_bf16 / AMX flags (usable ones: the kernel drops a flag whose
// register state the OS does not save, as cpu_detect does with XCR0); the best OpenBLAS core follows
// the flags; the one-line description says what the fields say.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/cpu.h"
#include "core/kernels.h"
#include "testutil.h"

static char proc_vendor[64], proc_model[128], proc_flags[8192];

// "key\t: value" of the first processor; 1 when all three were found
static int read_proc(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[8192];
    int got = 0;
    while (fgets(line, sizeof line, f) && got != 7) {
        char *colon = strchr(line, ':');
        if (!colon) {
            if (got) break;  // end of the first processor's block
            continue;
        }
        char *v = colon + 1;
        while (*v == ' ') v++;
        v[strcspn(v, "\n")] = 0;
        if (!strncmp(line, "vendor_id", 9) && !(got & 1)) snprintf(proc_vendor, sizeof proc_vendor, "%s", v), got |= 1;
        else if (!strncmp(line, "model name", 10) && !(got & 2)) snprintf(proc_model, sizeof proc_model, "%s", v), got |= 2;
        else if (!strncmp(line, "flags", 5) && !(got & 4)) snprintf(proc_flags, sizeof proc_flags, " %s ", v), got |= 4;
    }
    fclose(f);
    return got == 7;
}

static int has_flag(const char *flag) {
    char pat[64];
    snprintf(pat, sizeof pat, " %s ", flag);
    return strstr(proc_flags, pat) != NULL;
}

int main(void) {
    CpuInfo ci;
    cpu_detect(&ci);
    char line[512];
    cpu_line(line, sizeof line, &ci, "avx512_core_vnni", "Haswell", "OPENBLAS_CORETYPE from the environment");
    printf("%s\n%s\n", line, kern_cpu_line());

#if defined(__x86_64__) || defined(__i386__)
    TU_CHECK(ci.x86, "cpuid not read on x86");
    static const char *const known[] = {"GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls",
                                        "  Shanghai  ", "GenuineIotel", NULL};
    int k = 0;
    for (const char *const *p = known; *p; p++) k |= !strcmp(ci.vendor, *p);
    TU_CHECK(k, "vendor '%s' is none of the known x86 vendors", ci.vendor);
    if (read_proc()) {
        TU_CHECK(!strcmp(ci.vendor, proc_vendor), "vendor '%s', /proc/cpuinfo vendor_id '%s'", ci.vendor, proc_vendor);
        // the brand string is a name, not a capability: hypervisors may show the kernel another one than
        // user space gets from cpuid (an AMD EPYC VM: "AMD EPYC" in /proc, "Oxide Virtual Turin-like
        // Processor" from cpuid), so a difference is reported, not failed
        if (strcmp(ci.brand, proc_model))
            printf("note cpuid brand '%s', /proc/cpuinfo model name '%s' (a virtual machine's two names)\n", ci.brand,
                   proc_model);
        TU_CHECK(ci.avx2 == has_flag("avx2"), "avx2: cpuid %d, /proc %d", ci.avx2, has_flag("avx2"));
        TU_CHECK(ci.avx512f == has_flag("avx512f"), "avx512f: cpuid %d, /proc %d", ci.avx512f, has_flag("avx512f"));
        TU_CHECK(ci.avx512_bf16 == has_flag("avx512_bf16"), "avx512_bf16: cpuid %d, /proc %d", ci.avx512_bf16,
                 has_flag("avx512_bf16"));
        int proc_amx = has_flag("amx_tile") && has_flag("amx_bf16");
        TU_CHECK(ci.amx == proc_amx, "AMX: cpuid+XCR0 %d, /proc amx_tile+amx_bf16 %d", ci.amx, proc_amx);
        printf("ok   /proc/cpuinfo agrees: %s (%s), avx2 %d avx512f %d avx512_bf16 %d amx %d\n", proc_model, proc_vendor,
               ci.avx2, ci.avx512f, ci.avx512_bf16, ci.amx);
    } else {
        printf("skip /proc/cpuinfo not readable: cpuid not cross-checked\n");
    }
    TU_CHECK(strlen(ci.brand) > 0 && ci.brand[0] != ' ' && ci.brand[strlen(ci.brand) - 1] != ' ',
             "brand '%s' not trimmed", ci.brand);
    int printable = 1;
    for (const char *c = ci.brand; *c; c++) printable &= *c >= 0x20 && *c < 0x7f;
    TU_CHECK(printable, "brand '%s' has non-printable bytes (cpuid leaves 0x80000002-4 misread?)", ci.brand);
#else
    TU_CHECK(!ci.x86 && !strcmp(ci.vendor, "unknown"), "not x86 but vendor '%s'", ci.vendor);
#endif
    TU_CHECK(!ci.avx512_bf16 || ci.avx512f, "avx512_bf16 without avx512f");
    TU_CHECK(ci.amx == (ci.amx_tile && ci.amx_bf16 && ci.amx_os), "amx is not tile && bf16 && OS state");

    // the best OpenBLAS core: SkylakeX iff AVX-512, else Haswell iff AVX2
    const char *best = cpu_best_blas_core(&ci);
    TU_CHECK((best && !strcmp(best, "SkylakeX")) == (ci.avx512f != 0), "best core %s with avx512f %d",
             best ? best : "none", ci.avx512f);
    TU_CHECK((best && !strcmp(best, "Haswell")) == (!ci.avx512f && ci.avx2), "best core %s with avx2 %d avx512f %d",
             best ? best : "none", ci.avx2, ci.avx512f);
    CpuInfo zen5 = {.x86 = 1, .vendor = "AuthenticAMD", .brand = "AMD EPYC 9B45", .avx2 = 1, .avx512f = 1,
                    .avx512_bf16 = 1};
    CpuInfo old = {.x86 = 1, .vendor = "GenuineIntel", .brand = "old", .avx2 = 0};
    TU_CHECK(!strcmp(cpu_best_blas_core(&zen5), "SkylakeX"), "Zen 5: best core %s", cpu_best_blas_core(&zen5));
    TU_CHECK(cpu_best_blas_core(&old) == NULL, "no AVX2: a best core");
    // ranks: Haswell (Zen) below SkylakeX; case does not matter; unknown names rank lowest
    TU_CHECK(cpu_blas_core_rank("Haswell") < cpu_blas_core_rank("SkylakeX"), "Haswell not below SkylakeX");
    TU_CHECK(cpu_blas_core_rank("ZEN") == cpu_blas_core_rank("haswell"), "Zen != Haswell");
    TU_CHECK(cpu_blas_core_rank("skylakex") == 3 && cpu_blas_core_rank("SapphireRapids") == 3 &&
                 cpu_blas_core_rank("Cooperlake") == 3, "AVX-512 cores not rank 3");
    TU_CHECK(cpu_blas_core_rank("Prescott") == 0 && cpu_blas_core_rank(NULL) == 0 &&
                 cpu_blas_core_rank("Sandybridge") == 1, "rank of Prescott/NULL/Sandybridge");

    // the line says what the fields say
    TU_CHECK(!strncmp(line, "cpu: ", 5) && strstr(line, ci.brand) && strstr(line, ci.vendor), "line: %s", line);
    TU_CHECK(strstr(line, ci.avx512f ? "AVX-512 yes" : "AVX-512 no") != NULL, "line's AVX-512: %s", line);
    TU_CHECK(strstr(line, ci.amx ? "AMX yes" : "AMX no") != NULL, "line's AMX: %s", line);
    TU_CHECK(strstr(line, "| oneDNN avx512_core_vnni | OpenBLAS Haswell (OPENBLAS_CORETYPE from the environment)"),
             "line's oneDNN/OpenBLAS: %s", line);
    cpu_line(line, sizeof line, &zen5, NULL, "Haswell", "auto");
    TU_CHECK(!strcmp(line, "cpu: AMD EPYC 9B45 (AuthenticAMD) | AVX-512 yes, avx512_bf16 yes, AMX no | oneDNN not in "
                           "this build | OpenBLAS Haswell (auto)"), "Zen 5 line: %s", line);
    zen5.amx_tile = zen5.amx_bf16 = 1;  // AMX units the OS did not enable
    cpu_line(line, sizeof line, &zen5, NULL, "Haswell", "auto");
    TU_CHECK(strstr(line, "AMX no (not enabled by the OS)") != NULL, "AMX without OS state: %s", line);
    cpu_line(line, 16, &zen5, NULL, NULL, NULL);
    TU_CHECK(strlen(line) == 15, "short buffer not truncated: '%s'", line);
    const char *kl = kern_cpu_line();
    TU_CHECK(!strncmp(kl, "cpu: ", 5) && strstr(kl, ci.brand), "kern_cpu_line: %s", kl);
    return tu_done("test_cpu");
}
