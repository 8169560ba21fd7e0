#!/usr/bin/env python3
"""triage: is the failure in a libFuzzer log a bug of ratlip's or of a system library it calls?

Debian's libhdf5 1.10.8 crashes on some damaged files in its own code (a free of an uninitialised link
table in H5G__link_release_table, reads past a buffer in H5F__accum_read, ...). Those are not ours to
fix, so the fuzz tests note them and go on; everything else fails the test.

A failure is the library's when every stack in the report (where it failed, and for a heap error
where the memory was allocated and freed) starts, past the sanitizer and libc frames, in libhdf5,
libpng or libjpeg: memory we allocated and a library overran, or a library fed a bad argument from
our code, has one of our frames first somewhere, and counts as ours. UBSan reports, leaks (the
library's own are in lsan.supp) and failed checks of the targets are ours. A timeout's stack is one
sample, which cannot tell a library's endless loop from a loop of ours calling the library too often
(a damaged shape of a billion elements): a timeout is the library's only where the sample shows a
known slow path of libhdf5 1.10.8 inside one call of ours (LIBRARY_HANGS: an endless loop decoding a
damaged global heap, which holds the variable-length strings; converting one variable-length string
whose damaged length says gigabytes, which the library allocates and clears: 4 s in a release build,
over 5 s under ASan, for one H5Aread), and ours otherwise.

usage: triage.py LOG   prints one line; exit 3 = library, 1 = ours, 2 = no failure report found.
"""
import re
import sys

LIBRARIES = ("libhdf5", "libpng", "libjpeg")
LIBRARY_HANGS = ("H5HG__protect", "H5T__conv_vlen")
OUR_SOURCE = re.compile(r"/(io|core|tests/fuzz)/\w+\.c:\d+")   # a frame in our sources (not the binary's path)
FRAME = re.compile(r"^\s*#(\d+) 0x[0-9a-f]+ (?:in (\S+) )?(.*)$")
RUNTIME_FN = re.compile(r"^(__asan|__lsan|__ubsan|__sanitizer|__interceptor_|fuzzer::|__libc_|_start$|abort$|raise$"
                        r"|malloc$|calloc$|realloc$|free$|mem(cpy|move|set|cmp)$|str\w+$|__GI_|__memcpy|__memmove"
                        r"|__memset|__strlen|operator$|main$)")   # operator new, and libFuzzer's main (the targets have none)


def first_real_frame(frames):
    """The first frame outside the sanitizer runtime and libc: (function, location) or None."""
    for fn, where in frames:
        if fn and RUNTIME_FN.match(fn):
            continue
        if "libc.so" in where or "ld-linux" in where:
            continue
        return fn or "?", where
    return None


def stacks(lines):
    """Consecutive runs of '#N 0x... in fn where' lines."""
    out, cur = [], []
    for line in lines:
        m = FRAME.match(line)
        if m:
            if m.group(1) == "0" and cur:
                out.append(cur)
                cur = []
            cur.append((m.group(2), m.group(3)))
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def main():
    text = open(sys.argv[1], errors="replace").read().splitlines()
    start = None
    for i, line in enumerate(text):
        if ("==ERROR:" in line or "== ERROR:" in line or "runtime error:" in line or "fuzz check failed" in line
                or "deadly signal" in line):
            start = i
            break
    if start is None:
        print("no failure report in " + sys.argv[1])
        return 2
    report = text[start:]
    head = report[0].strip()
    if "runtime error:" in head or "fuzz check failed" in head or "LeakSanitizer" in head:
        print("ours: " + head)
        return 1
    if "libFuzzer: timeout" in head:
        ours_at = next((i for i, l in enumerate(report) if OUR_SOURCE.search(l)), len(report))
        hang = next((h for h in LIBRARY_HANGS for l in report[:ours_at] if h in l), None)
        if hang:
            print(f"library: {head} (known libhdf5 slow path in {hang})")
            return 3
        print(f"ours: {head} (not a known library hang; look at the stack)")
        return 1
    # "Thread T1 created by T0 here:" stacks say where a thread began (libFuzzer's memory watcher), not
    # where the fault is: leave them out
    kept, skipping = [], False
    for line in report[:400]:
        if re.match(r"^Thread T\d+ .*created by", line):
            skipping = True
        elif skipping and not FRAME.match(line):
            skipping = False
        if not skipping:
            kept.append(line)
    st = stacks(kept)
    if not st:
        print("ours (no stack to tell): " + head)
        return 1
    # A stack that never leaves the runtime was cut short by the fast unwinder at a caller without frame
    # pointers: the uninstrumented library (ours are built with them). It tells nothing; skip it.
    firsts = [f for f in (first_real_frame(s) for s in st) if f]
    if not firsts:
        print("ours (no stack to tell): " + head)
        return 1
    libs = []
    for f in firsts:
        lib = next((l for l in LIBRARIES if l in f[1]), None)
        if not lib:
            where = f"{f[0]} {f[1]}"
            print(f"ours: {head} (first frame of ours: {where})")
            return 1
        libs.append(f"{lib}:{f[0]}")
    print(f"library: {head} at {', '.join(dict.fromkeys(libs))}")
    return 3


if __name__ == "__main__":
    sys.exit(main())
