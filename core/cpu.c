#include "core/cpu.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define RATLIP_X86 1
#endif

#ifdef RATLIP_X86
static unsigned long long xgetbv0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

void cpu_detect(CpuInfo *ci) {
    memset(ci, 0, sizeof *ci);
    snprintf(ci->vendor, sizeof ci->vendor, "unknown");
    snprintf(ci->brand, sizeof ci->brand, "unknown");
#ifdef RATLIP_X86
    unsigned int a, b, c, d;
    unsigned int max = __get_cpuid_max(0, NULL);
    if (max == 0) return;
    ci->x86 = 1;
    __cpuid(0, a, b, c, d);
    memcpy(ci->vendor, &b, 4);
    memcpy(ci->vendor + 4, &d, 4);
    memcpy(ci->vendor + 8, &c, 4);
    ci->vendor[12] = 0;

    if (__get_cpuid_max(0x80000000, NULL) >= 0x80000004) {
        unsigned int r[12];
        for (unsigned int i = 0; i < 3; i++) __cpuid(0x80000002 + i, r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]);
        char raw[49];
        memcpy(raw, r, 48);
        raw[48] = 0;
        const char *s = raw;
        while (*s == ' ') s++;
        size_t len = strlen(s);
        while (len && s[len - 1] == ' ') len--;
        if (len) {
            memcpy(ci->brand, s, len);
            ci->brand[len] = 0;
        }
    }

    __cpuid(1, a, b, c, d);
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int os_ymm = (xcr0 & 0x6) == 0x6;             // SSE + AVX state
    int os_zmm = os_ymm && (xcr0 & 0xe0) == 0xe0;  // opmask + ZMM_Hi256 + Hi16_ZMM
    ci->amx_os = (xcr0 & (3ull << 17)) == (3ull << 17);
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        unsigned int subleaves = a;
        ci->avx2 = avx && os_ymm && ((b >> 5) & 1);
        ci->avx512f = os_zmm && ((b >> 16) & 1);
        ci->amx_tile = (d >> 24) & 1;
        ci->amx_bf16 = (d >> 22) & 1;
        if (subleaves >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            ci->avx512_bf16 = ci->avx512f && ((a >> 5) & 1);
        }
    }
    ci->amx = ci->amx_tile && ci->amx_bf16 && ci->amx_os;
#endif
}

const char *cpu_best_blas_core(const CpuInfo *ci) {
    return ci->avx512f ? "SkylakeX" : ci->avx2 ? "Haswell" : NULL;
}

int cpu_blas_core_rank(const char *name) {
    if (!name) return 0;
    static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids", NULL};
    static const char *const avx2[] = {"Haswell", "Zen", NULL};
    static const char *const avx1[] = {"Sandybridge", "Bulldozer", "Piledriver", "Steamroller", "Excavator", NULL};
    const char *const *groups[] = {avx1, avx2, avx512};
    for (int g = 2; g >= 0; g--)
        for (const char *const *p = groups[g]; *p; p++)
            if (!strcasecmp(name, *p)) return g + 1;
    return 0;
}

void cpu_line(char *buf, size_t n, const CpuInfo *ci, const char *dnnl_isa, const char *blas_core,
              const char *blas_from) {
    if (!n) return;
    char vec[96];
    if (!ci->x86)
        snprintf(vec, sizeof vec, "vector units unknown (not x86)");
    else if (ci->avx512f)
        snprintf(vec, sizeof vec, "AVX-512 yes, avx512_bf16 %s, AMX %s", ci->avx512_bf16 ? "yes" : "no",
                 ci->amx ? "yes" : ci->amx_tile ? "no (not enabled by the OS)" : "no");
    else
        snprintf(vec, sizeof vec, "AVX-512 no, AVX2 %s, AMX no", ci->avx2 ? "yes" : "no");
    snprintf(buf, n, "cpu: %s (%s) | %s | oneDNN %s | OpenBLAS %s (%s)", ci->brand, ci->vendor, vec,
             dnnl_isa ? dnnl_isa : "not in this build", blas_core ? blas_core : "unknown",
             blas_from ? blas_from : "auto");
}
