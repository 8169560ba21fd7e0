// pylist (issue 17): the DF-GAN/AttnGAN filenames.pickle reader against what Python writes (protocols 2-4,
// 2000 names with non-ASCII ones, memo gets, empty lists), a hand-made Python 2 pickle (str as bytes, UTF-8
// and Latin-1), the refusals (a dict, ints, nested lists, bytes, protocols 0 and 5) naming file, offset and
// opcode, damage (truncation, no STOP, lengths past the end, NUL, bad UTF-8), every prefix and one-byte
// change of two small pickles (an error, never a crash: run it under the sanitizers), and the text list.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/fs.h"
#include "io/pylist.h"
#include "testutil.h"

#ifndef RATLIP_PYTHON
#define RATLIP_PYTHON "/usr/bin/python3"
#endif

enum { N_NAMES = 2000 };
static char dir[] = "/tmp/ratlip_pylist_XXXXXX";
static char *names[N_NAMES];

// CUB-like keys, some non-ASCII, one over 255 bytes (BINUNICODE, not SHORT_, at protocol 4), one empty;
// the last two repeat names 300 and 5 (Python makes them the same objects: LONG_BINGET and BINGET).
static void make_names(void) {
    char s[400];
    for (int i = 0; i < N_NAMES; i++) {
        int j = i == N_NAMES - 2 ? 300 : i == N_NAMES - 1 ? 5 : i;
        if (j == 17) memset(s, 'L', 300), s[300] = 0;
        else if (j == 40) s[0] = 0;
        else if (j % 7 == 3) snprintf(s, sizeof s, "%03d.Café_ü/ñ_%d", j, j);
        else if (j % 11 == 5) snprintf(s, sizeof s, "%03d.鳥/画像_%d", j, j);
        else snprintf(s, sizeof s, "%03d.Bird_%d/Bird_%04d_%d", j, j, j, j % 97);
        names[i] = strdup(s);
    }
}

static const char *script =
    "import pickle, sys\n"
    "d = sys.argv[1]\n"
    "n = open(d + '/names.txt', encoding='utf-8').read().split('\\n')\n"
    "n[-2] = n[300]; n[-1] = n[5]\n"
    "def w(f, x, p): open(d + '/' + f, 'wb').write(pickle.dumps(x, protocol=p))\n"
    "for p in (2, 3, 4): w('p%d.pickle' % p, n, p)\n"
    "w('empty2.pickle', [], 2); w('empty4.pickle', [], 4)\n"
    "s = 'x' * 5\n"
    "w('memo2.pickle', [s, s], 2); w('memo4.pickle', [s, s], 4)\n"
    "w('one.pickle', ['a'], 4)\n"
    "w('dict.pickle', {'a': 'b'}, 2); w('ints.pickle', [1, 2, 3], 4); w('nested.pickle', [['a']], 4)\n"
    "w('p0.pickle', n[:3], 0); w('p5.pickle', n[:3], 5); w('bytes.pickle', [b'abc'], 2)\n";

static void path_of(char *p, size_t size, const char *file) { snprintf(p, size, "%s/%s", dir, file); }

// items[0..n) == want[0..n_want)
static void check_items(const char *what, char **items, long n, char *const *want, long n_want) {
    TU_CHECK(n == n_want, "%s: %ld strings, want %ld", what, n, n_want);
    long bad = 0;
    for (long i = 0; i < n && i < n_want; i++)
        if (strcmp(items[i], want[i]) && bad++ < 3) TU_CHECK(0, "%s: string %ld is '%s', want '%s'", what, i, items[i], want[i]);
    TU_CHECK(bad == 0, "%s: %ld strings differ", what, bad);
}

// A failed read: -1, nothing returned, and a message holding each fragment (NULL: none).
static void check_refused(const char *what, int rc, char **items, long n, const Err *e, const char *f1,
                          const char *f2, const char *f3) {
    TU_CHECK(rc == -1 && items == NULL && n == 0, "%s: read (rc %d, %ld strings), want a refusal", what, rc, n);
    const char *frag[] = {f1, f2, f3};
    for (int k = 0; k < 3; k++)
        TU_CHECK(!frag[k] || strstr(e->msg, frag[k]), "%s: message lacks '%s': %s", what, frag[k], e->msg);
    printf("%s: %s\n", what, e->msg);
}

static void read_ok(const char *file, char *const *want, long n_want) {
    char path[256];
    path_of(path, sizeof path, file);
    char **items;
    long n;
    Err e = {{0}};
    int rc = pylist_read(path, &items, &n, &e);
    TU_CHECK(rc == 0, "%s: %s", file, e.msg);
    if (rc == 0) check_items(file, items, n, want, n_want);
    pylist_free(items, n);
}

// A Python-written file this reader must refuse at byte `at` (e.g. "byte 2:") with opcode `op` ("0x7d").
static void refused_file(const char *file, const char *at, const char *op) {
    char path[256], hint[400];
    path_of(path, sizeof path, file);
    snprintf(hint, sizeof hint, "pickle.load(open('%s','rb'))", path);
    char **items;
    long n;
    Err e = {{0}};
    int rc = pylist_read(path, &items, &n, &e);
    check_refused(file, rc, items, n, &e, at, op, hint);
    TU_CHECK(strstr(e.msg, path) == e.msg && strstr(e.msg, "--train-list"), "%s: %s", file, e.msg);
}

#define PARSE(lit, items, n, e) pylist_parse((const unsigned char *)(lit), sizeof(lit) - 1, "mem.pickle", items, n, e)
// A buffer pylist_parse must refuse with each fragment (NULL: none) in the message, which names mem.pickle.
static void refused_mem(const char *what, const char *buf, size_t len, const char *f1, const char *f2,
                        const char *f3) {
    char **items;
    long n;
    Err e = {{0}};
    int rc = pylist_parse((const unsigned char *)buf, len, "mem.pickle", &items, &n, &e);
    check_refused(what, rc, items, n, &e, f1, f2, f3);
    TU_CHECK(!strncmp(e.msg, "mem.pickle: ", 12), "%s: the message does not start with the name", what);
}
#define REFUSED(what, lit, f1, f2, f3) refused_mem(what, lit, sizeof(lit) - 1, f1, f2, f3)

static void python2_pickles(void) {
    char **items;
    long n;
    Err e = {{0}};
    // what Python 2's cPickle.dump(['abc', 'def'], f, 2) writes: SHORT_BINSTRING, BINPUT, MARK, APPENDS
    int rc = PARSE("\x80\x02]q\x00(U\x03" "abcq\x01U\x03" "defq\x02" "e.", &items, &n, &e);
    TU_CHECK(rc == 0, "py2: %s", e.msg);
    char *want2[] = {"abc", "def"};
    check_items("py2", items, n, want2, 2);
    pylist_free(items, n);
    // Latin-1 bytes become UTF-8, UTF-8 bytes stay; BINSTRING; BINGET of a bytes string
    rc = PARSE("\x80\x02]q\x00(U\x04" "caf\xe9q\x01T\x03\x00\x00\x00" "defq\x02U\x05" "caf\xc3\xa9h\x01" "e.", &items,
               &n, &e);
    TU_CHECK(rc == 0, "py2 latin-1: %s", e.msg);
    char *want4[] = {"caf\xc3\xa9", "def", "caf\xc3\xa9", "caf\xc3\xa9"};
    check_items("py2 latin-1", items, n, want4, 4);
    pylist_free(items, n);
}

static void damaged_pickles(void) {
    REFUSED("only PROTO", "\x80\x04", "byte 2:", "without STOP", NULL);
    REFUSED("list, no STOP", "\x80\x02]", "byte 3:", "without STOP", NULL);
    REFUSED("empty", "", "empty", NULL, NULL);
    REFUSED("length past the end", "\x80\x03]q\x00X\xff\xff\xff\x7f" "abc", "byte 5:", "2147483647", "truncated");
    REFUSED("BINUNICODE8 2^64-1", "\x80\x04]\x8d\xff\xff\xff\xff\xff\xff\xff\xff" "ab", "byte 3:",
            "18446744073709551615", "truncated");
    REFUSED("huge frame", "\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xff]\x94.", "byte 2:", "frame", "truncated");
    REFUSED("cut argument", "\x80\x04]\x8c", "byte 3:", "0x8c", "truncated");
    REFUSED("negative BINSTRING", "\x80\x02]T\xff\xff\xff\xff" "ab", "byte 3:", "negative", NULL);
    REFUSED("NUL in a string", "\x80\x03]q\x00X\x03\x00\x00\x00" "a\x00" "bq\x01" "a.", "byte 11:", "NUL", NULL);
    REFUSED("bad UTF-8", "\x80\x03]X\x02\x00\x00\x00\xc3(a.", "byte 8:", "UTF-8", "0xc3");
    REFUSED("get of an unset memo entry", "\x80\x02]h\x05" "a.", "byte 3:", "0x68", "never put");
    REFUSED("huge memo index", "\x80\x02]r\xff\xff\xff\xff.", "byte 3:", "memo index 4294967295", NULL);
    REFUSED("get of the list", "\x80\x02]q\x00h\x00" "a.", "byte 5:", "0x68", "inside itself");
    REFUSED("bytes after STOP", "\x80\x02].x", "byte 4:", "after STOP", NULL);
    REFUSED("APPENDS without MARK", "\x80\x02]e.", "byte 3:", "0x65", "--train-list");
    REFUSED("APPEND of nothing", "\x80\x02]a.", "byte 3:", "0x61", NULL);
    REFUSED("STOP inside a batch", "\x80\x02](.", "byte 4:", "0x2e", NULL);
    REFUSED("string before the list", "\x80\x02X\x01\x00\x00\x00" "a.", "byte 2:", "0x58", NULL);
    REFUSED("two loose strings", "\x80\x02]U\x01" "aU\x01" "ba.", "byte 6:", "0x55", NULL);
    REFUSED("a second PROTO", "\x80\x02]\x80\x02.", "byte 3:", "0x80", NULL);
    REFUSED("protocol 1 (no PROTO)", "]q\x00X\x01\x00\x00\x00" "aa.", "byte 0:", "0x5d", "protocol 0 or 1");
    REFUSED("protocol 3 bytes", "\x80\x03]C\x01" "aa.", "byte 3:", "0x43", "SHORT_BINBYTES");
}

// Every prefix of buf must be refused, every one-byte change either read or refused, never a crash.
static void mutations(const char *file) {
    char path[256];
    path_of(path, sizeof path, file);
    size_t len = 0;
    Err e = {{0}};
    unsigned char *buf = (unsigned char *)fs_read_all(path, 0, &len, &e);
    TU_CHECK(buf != NULL, "%s", e.msg);
    if (!buf) return;
    char **items;
    long n, read = 0, refused = 0, unnamed = 0;
    for (size_t cut = 0; cut < len; cut++) {
        int rc = pylist_parse(buf, cut, "cut.pickle", &items, &n, &e);
        TU_CHECK(rc == -1 && !strncmp(e.msg, "cut.pickle: ", 12), "%s cut to %zu bytes: rc %d (%s)", file, cut, rc, e.msg);
        pylist_free(items, n);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char keep = buf[i];
        for (int v = 0; v < 256; v++) {
            buf[i] = (unsigned char)v;
            e.msg[0] = 0;
            if (pylist_parse(buf, len, "flip.pickle", &items, &n, &e) == 0) read++;
            else refused++, unnamed += strncmp(e.msg, "flip.pickle: ", 13) != 0;
            pylist_free(items, n);
        }
        buf[i] = keep;
    }
    TU_CHECK(unnamed == 0, "%s: %ld refusals do not name the file", file, unnamed);
    printf("%s: %zu prefixes refused; one-byte changes: %ld read, %ld refused\n", file, len, read, refused);
    free(buf);
}

// A truncated copy of p3.pickle, cut 3 bytes into names[1000] (BINUNICODE: opcode 5 bytes before it).
static void truncated_file(void) {
    char path[256], cut[256], want[64];
    path_of(path, sizeof path, "p3.pickle");
    path_of(cut, sizeof cut, "cut.pickle");
    size_t len = 0, k = strlen(names[1000]), pos = 0;
    Err e = {{0}};
    char *buf = fs_read_all(path, 0, &len, &e);
    TU_CHECK(buf != NULL, "%s", e.msg);
    if (!buf) return;
    while (pos + k <= len && memcmp(buf + pos, names[1000], k)) pos++;
    TU_CHECK(pos + k <= len && pos >= 5, "names[1000] not in %s", path);
    TU_CHECK(fs_write_atomic(cut, buf, pos + 3, &e) == 0, "%s", e.msg);
    free(buf);
    char **items;
    long n;
    int rc = pylist_read(cut, &items, &n, &e);
    snprintf(want, sizeof want, "byte %zu:", pos - 5);
    check_refused("truncated file", rc, items, n, &e, cut, want, "truncated");
}

static void text_lists(void) {
    static const struct { const char *text; size_t len; } t[] = {
#define T(s) {s, sizeof(s) - 1}
        T("\xEF\xBB\xBF# keys\r\n\r\nabc\r\n  def  \n\t# indented comment\n   \nCafé_ü/ñ\nghi"),
        T(""),
        T("a\nb\0c\n"),
        T("ok\n#c\n\xff\n"),
#undef T
    };
    char path[256];
    char **items;
    long n;
    Err e = {{0}};
    for (int i = 0; i < 4; i++) {
        path_of(path, sizeof path, "list.txt");
        TU_CHECK(fs_write_atomic(path, t[i].text, t[i].len, &e) == 0, "%s", e.msg);
        int rc = textlist_read(path, &items, &n, &e);
        if (i == 0) {
            char *want[] = {"abc", "def", "Café_ü/ñ", "ghi"};
            TU_CHECK(rc == 0, "text list: %s", e.msg);
            if (rc == 0) check_items("text list", items, n, want, 4);
        } else if (i == 1) {
            TU_CHECK(rc == 0 && n == 0, "empty text list: rc %d, %ld keys (%s)", rc, n, e.msg);
        } else {
            char where[300];
            snprintf(where, sizeof where, "%s:%d:", path, i);
            check_refused(i == 2 ? "text list with NUL" : "text list, bad UTF-8", rc, items, n, &e, where,
                          i == 2 ? "NUL byte at byte 2" : "0xff", NULL);
        }
        pylist_free(items, n);
    }
    path_of(path, sizeof path, "missing.txt");
    check_refused("missing text list", textlist_read(path, &items, &n, &e), items, n, &e, path, NULL, NULL);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    make_names();
    char path[256], cmd[600];
    path_of(path, sizeof path, "names.txt");   // one name a line, no newline after the last (split keeps "")
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < N_NAMES; i++) fprintf(f, "%s%s", i ? "\n" : "", names[i]);
    TU_CHECK(f && fclose(f) == 0, "cannot write %s", path);
    path_of(path, sizeof path, "make.py");
    f = fopen(path, "w");
    TU_CHECK(f && fputs(script, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
    snprintf(cmd, sizeof cmd, RATLIP_PYTHON " %s %s", path, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "FAIL: %s did not write the pickles\n", cmd);
        return 1;
    }

    read_ok("p2.pickle", names, N_NAMES);
    read_ok("p3.pickle", names, N_NAMES);
    read_ok("p4.pickle", names, N_NAMES);
    read_ok("empty2.pickle", NULL, 0);
    read_ok("empty4.pickle", NULL, 0);
    char *xx[] = {"xxxxx", "xxxxx"}, *a[] = {"a"};
    read_ok("memo2.pickle", xx, 2);
    read_ok("memo4.pickle", xx, 2);
    read_ok("one.pickle", a, 1);
    python2_pickles();

    refused_file("dict.pickle", "byte 2:", "0x7d (EMPTY_DICT)");
    refused_file("ints.pickle", "byte 14:", "0x4b (BININT1)");
    refused_file("nested.pickle", "byte 13:", "0x5d (EMPTY_LIST)");
    refused_file("p0.pickle", "byte 0:", "0x28 (MARK)");
    refused_file("p5.pickle", "byte 0:", "protocol 5");
    refused_file("bytes.pickle", "byte 5:", "0x63 (GLOBAL)");
    truncated_file();
    damaged_pickles();
    mutations("one.pickle");
    mutations("memo2.pickle");
    text_lists();

    for (int i = 0; i < N_NAMES; i++) free(names[i]);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return tu_done("io_pylist");
}
