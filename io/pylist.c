#include "io/pylist.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/dataset.h"   // ds_utf8_prefix
#include "io/fs.h"

// The opcodes read (pickletools' names); any other byte where an opcode is due is refused.
enum {
    OP_MARK = 0x28, OP_STOP = 0x2e, OP_BINSTRING = 0x54, OP_SHORT_BINSTRING = 0x55, OP_BINUNICODE = 0x58,
    OP_EMPTY_LIST = 0x5d, OP_APPEND = 0x61, OP_APPENDS = 0x65, OP_BINGET = 0x68, OP_LONG_BINGET = 0x6a,
    OP_BINPUT = 0x71, OP_LONG_BINPUT = 0x72, OP_PROTO = 0x80, OP_SHORT_BINUNICODE = 0x8c,
    OP_BINUNICODE8 = 0x8d, OP_MEMOIZE = 0x94, OP_FRAME = 0x95,
};

// Names for the message: the opcodes above and those a refused file most likely holds.
static const char *op_name(unsigned op) {
    static const struct { unsigned char op; const char *name; } names[] = {
        {0x28, "MARK"}, {0x2e, "STOP"}, {0x54, "BINSTRING"}, {0x55, "SHORT_BINSTRING"}, {0x58, "BINUNICODE"},
        {0x5d, "EMPTY_LIST"}, {0x61, "APPEND"}, {0x65, "APPENDS"}, {0x68, "BINGET"}, {0x6a, "LONG_BINGET"},
        {0x71, "BINPUT"}, {0x72, "LONG_BINPUT"}, {0x80, "PROTO"}, {0x8c, "SHORT_BINUNICODE"},
        {0x8d, "BINUNICODE8"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"}, {0x7d, "EMPTY_DICT"}, {0x29, "EMPTY_TUPLE"},
        {0x8f, "EMPTY_SET"}, {0x4a, "BININT"}, {0x4b, "BININT1"}, {0x4d, "BININT2"}, {0x8a, "LONG1"},
        {0x47, "BINFLOAT"}, {0x4e, "NONE"}, {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"}, {0x42, "BINBYTES"},
        {0x43, "SHORT_BINBYTES"}, {0x8e, "BINBYTES8"}, {0x63, "GLOBAL"}, {0x93, "STACK_GLOBAL"},
        {0x52, "REDUCE"}, {0x81, "NEWOBJ"}, {0x62, "BUILD"}, {0x73, "SETITEM"}, {0x75, "SETITEMS"},
        {0x85, "TUPLE1"}, {0x86, "TUPLE2"}, {0x87, "TUPLE3"}, {0x74, "TUPLE"}, {0x6c, "LIST"},
        {0x56, "UNICODE"}, {0x53, "STRING"}, {0x49, "INT"}, {0x70, "PUT"}, {0x67, "GET"}, {0x97, "NEXT_BUFFER"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].op == op) return names[i].name;
    return "unknown";
}

// A growing array of malloc'd strings: the result of both readers.
typedef struct {
    char **v;
    long n, cap;
} List;

static void list_drop(List *l) {
    pylist_free(l->v, l->n);
    *l = (List){0};
}

// Appends s (taken over: freed here on failure).
static int list_take(List *l, char *s, const char *name, Err *e) {
    if (s && l->n == l->cap) {
        long cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) free(s), s = NULL;
        else l->v = v, l->cap = cap;
    }
    if (!s) return err_set(e, "%s: out of memory after %ld strings", name, l->n);
    l->v[l->n++] = s;
    return 0;
}

static char *copy_bytes(const char *s, size_t n) {
    char *c = malloc(n + 1);
    if (c) memcpy(c, s, n), c[n] = 0;
    return c;
}

// ---- the pickle ----

// A value on the unpickler's stack or in its memo: the list, or a string's bytes in the buffer.
enum { V_NONE, V_LIST, V_STR, V_PY2STR };   // V_PY2STR: Python 2 str (bytes, Latin-1 when not UTF-8)
typedef struct {
    int kind;
    size_t pos, len;
} Value;

typedef struct {
    const unsigned char *buf;
    size_t len;
    const char *name;
    Err *e;
    List out;
    Value *memo;              // memo[i].kind V_NONE: not set
    size_t memo_cap, memo_keys;
    int have_list, marked;    // the list is on the stack; a MARK is open above it
    long loose;               // strings on the stack above the list or the MARK (already in out)
    Value top;                // the newest of them
} Pickle;

#define CONVERT_HINT                                                                                    \
    "only a pickled list of strings (protocols 2-4) is read; convert it with: python3 -c \"import "  \
    "pickle;print('\\n'.join(pickle.load(open('%s','rb'))))\" > list.txt and pass --train-list/--test-list"

// A pickle this reader does not take (another type, another protocol, an unexpected sequence).
static int refuse(Pickle *p, size_t at, const char *why) {
    unsigned op = p->buf[at];
    return err_set(p->e, "%s: byte %zu: opcode 0x%02x (%s): %s; " CONVERT_HINT, p->name, at, op, op_name(op), why,
                   p->name);
}

// Little-endian unsigned of k bytes at at; 0 after checking they are there, else the truncation error.
static int arg_le(Pickle *p, size_t op_at, size_t at, unsigned k, uint64_t *v) {
    if (k > p->len - at)
        return err_set(p->e, "%s: byte %zu: opcode 0x%02x (%s) needs %u argument bytes, the file has %zu more: "
                       "truncated", p->name, op_at, p->buf[op_at], op_name(p->buf[op_at]), k, p->len - at);
    *v = 0;
    for (unsigned i = 0; i < k; i++) *v |= (uint64_t)p->buf[at + i] << (8 * i);
    return 0;
}

// The string v as a malloc'd UTF-8 C string in *out (NULL when out of memory: list_take says so); -1 with the
// error set when its bytes cannot be a file name (string number `index`, opcode at op_at, for messages).
static int decode(Pickle *p, Value v, size_t op_at, long index, char **out) {
    const char *s = (const char *)p->buf + v.pos;
    const char *nul = memchr(s, 0, v.len);
    size_t ok = nul ? 0 : ds_utf8_prefix(s, v.len);
    *out = NULL;
    if (nul)
        return err_set(p->e, "%s: byte %zu: string %ld (opcode at byte %zu) holds a NUL byte: not a file name",
                       p->name, v.pos + (size_t)(nul - s), index, op_at);
    if (ok == v.len) {
        *out = copy_bytes(s, v.len);
        return 0;
    }
    if (v.kind == V_STR)
        return err_set(p->e, "%s: byte %zu: string %ld (opcode at byte %zu) is not valid UTF-8 (byte 0x%02x)",
                       p->name, v.pos + ok, index, op_at, (unsigned char)s[ok]);
    char *u = malloc(2 * v.len + 1), *w = u;   // Latin-1: each byte is the code point, <= 2 bytes of UTF-8
    for (size_t i = 0; u && i < v.len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) *w++ = (char)c;
        else *w++ = (char)(0xC0 | c >> 6), *w++ = (char)(0x80 | (c & 0x3F));
    }
    if (u) *w = 0;
    *out = u;
    return 0;
}

// A string pushed (read, or got from the memo): into the list at once; APPEND/APPENDS then only check.
static int push_string(Pickle *p, size_t op_at, Value v) {
    if (!p->have_list) return refuse(p, op_at, "a string before the list");
    if (!p->marked && p->loose) return refuse(p, op_at, "a second string outside a MARK ... APPENDS batch");
    char *s;
    if (decode(p, v, op_at, p->out.n, &s) || list_take(&p->out, s, p->name, p->e)) return -1;
    p->loose++;
    p->top = v;
    return 0;
}

static int memo_put(Pickle *p, size_t op_at, uint64_t idx) {
    Value v = p->loose ? p->top : (Value){V_LIST, 0, 0};
    if (!p->loose && (!p->have_list || p->marked)) return refuse(p, op_at, "nothing on the stack to memoize");
    // Pickler numbers its memo 0, 1, 2, ...: a well-formed file never holds an index past its own length,
    // which bounds the table here by the file size whatever the index bytes say.
    if (idx >= p->len)
        return err_set(p->e, "%s: byte %zu: memo index %llu in a %zu-byte file: damaged", p->name, op_at,
                       (unsigned long long)idx, p->len);
    if (idx >= p->memo_cap) {
        size_t cap = p->memo_cap ? p->memo_cap : 256;
        while (cap <= idx) cap *= 2;
        if (cap > p->len) cap = p->len;   // idx < len
        Value *m = realloc(p->memo, cap * sizeof *m);
        if (!m) return err_set(p->e, "%s: out of memory", p->name);
        memset(m + p->memo_cap, 0, (cap - p->memo_cap) * sizeof *m);
        p->memo = m, p->memo_cap = cap;
    }
    if (p->memo[idx].kind == V_NONE) p->memo_keys++;
    p->memo[idx] = v;
    return 0;
}

static int memo_get(Pickle *p, size_t op_at, uint64_t idx) {
    if (idx >= p->memo_cap || p->memo[idx].kind == V_NONE)
        return err_set(p->e, "%s: byte %zu: opcode 0x%02x (%s) gets memo entry %llu, which was never put: damaged",
                       p->name, op_at, p->buf[op_at], op_name(p->buf[op_at]), (unsigned long long)idx);
    if (p->memo[idx].kind == V_LIST) return refuse(p, op_at, "the list inside itself");
    return push_string(p, op_at, p->memo[idx]);
}

// One opcode at *at (advanced past it and its argument). 1 at STOP, 0 to go on, -1 on error.
static int step(Pickle *p, size_t *at) {
    size_t op_at = (*at)++;
    unsigned op = p->buf[op_at];
    uint64_t a = 0;
    unsigned width = 0;   // bytes of the length or index argument
    if (op_at == 0 && op != OP_PROTO)
        return refuse(p, op_at, "no PROTO opcode at the start: protocol 0 or 1, or not a pickle");
    switch (op) {
    case OP_PROTO:
        if (op_at != 0) return refuse(p, op_at, "PROTO after the start");
        if (arg_le(p, op_at, *at, 1, &a)) return -1;
        *at += 1;
        if (a < 2 || a > 4) {
            char why[48];
            snprintf(why, sizeof why, "protocol %u", (unsigned)a);
            return refuse(p, op_at, why);
        }
        return 0;
    case OP_FRAME:
        if (arg_le(p, op_at, *at, 8, &a)) return -1;
        *at += 8;
        if (a > p->len - *at)
            return err_set(p->e, "%s: byte %zu: a frame of %llu bytes, the file has %zu more: truncated", p->name,
                           op_at, (unsigned long long)a, p->len - *at);
        return 0;
    case OP_EMPTY_LIST:
        if (p->have_list) return refuse(p, op_at, "a second list (nested lists are not file names)");
        p->have_list = 1;
        return 0;
    case OP_MARK:
        if (!p->have_list || p->marked || p->loose) return refuse(p, op_at, "MARK where no batch can start");
        p->marked = 1;
        return 0;
    case OP_APPENDS:
        if (!p->marked) return refuse(p, op_at, "APPENDS without MARK");
        p->marked = 0, p->loose = 0;
        return 0;
    case OP_APPEND:
        if (p->marked || p->loose != 1) return refuse(p, op_at, "APPEND without one string to append");
        p->loose = 0;
        return 0;
    case OP_STOP:
        if (!p->have_list || p->marked || p->loose) return refuse(p, op_at, "STOP before the list is complete");
        if (*at != p->len)
            return err_set(p->e, "%s: byte %zu: %zu bytes after STOP: damaged, or more than one pickle", p->name,
                           *at, p->len - *at);
        return 1;
    case OP_MEMOIZE:
        return memo_put(p, op_at, p->memo_keys);
    case OP_BINPUT: width = 1; break;
    case OP_LONG_BINPUT: width = 4; break;
    case OP_BINGET: width = 1; break;
    case OP_LONG_BINGET: width = 4; break;
    case OP_SHORT_BINUNICODE: case OP_SHORT_BINSTRING: width = 1; break;
    case OP_BINUNICODE: case OP_BINSTRING: width = 4; break;
    case OP_BINUNICODE8: width = 8; break;
    default:
        return refuse(p, op_at, "not part of a list of strings");
    }
    if (arg_le(p, op_at, *at, width, &a)) return -1;
    *at += width;
    if (op == OP_BINPUT || op == OP_LONG_BINPUT) return memo_put(p, op_at, a);
    if (op == OP_BINGET || op == OP_LONG_BINGET) return memo_get(p, op_at, a);
    if (op == OP_BINSTRING && a >= 0x80000000u)   // Python 2 wrote a signed length
        return err_set(p->e, "%s: byte %zu: BINSTRING of negative length %lld: damaged", p->name, op_at,
                       (long long)a - 0x100000000ll);
    if (a > p->len - *at)
        return err_set(p->e, "%s: byte %zu: opcode 0x%02x (%s) says a string of %llu bytes, the file has %zu more: "
                       "truncated", p->name, op_at, op, op_name(op), (unsigned long long)a, p->len - *at);
    Value v = {op == OP_SHORT_BINSTRING || op == OP_BINSTRING ? V_PY2STR : V_STR, *at, (size_t)a};
    *at += (size_t)a;
    return push_string(p, op_at, v);
}

int pylist_parse(const unsigned char *buf, size_t len, const char *name, char ***items, long *n, Err *e) {
    *items = NULL, *n = 0;
    if (len == 0) return err_set(e, "%s: empty file: not a pickle", name);
    Pickle p = {.buf = buf, .len = len, .name = name, .e = e};
    size_t at = 0;
    int rc = 0;
    while (at < len && (rc = step(&p, &at)) == 0) {}
    if (rc == 0) rc = err_set(e, "%s: byte %zu: the file ends without STOP (0x2e): truncated", name, len);
    free(p.memo);
    if (rc < 0) {
        list_drop(&p.out);
        return -1;
    }
    *items = p.out.v, *n = p.out.n;
    return 0;
}

int pylist_read(const char *path, char ***items, long *n, Err *e) {
    *items = NULL, *n = 0;
    size_t len = 0;
    char *buf = fs_read_all(path, PYLIST_MAX_BYTES, &len, e);
    if (!buf) return -1;
    int rc = pylist_parse((const unsigned char *)buf, len, path, items, n, e);
    free(buf);
    return rc;
}

// ---- the text list ----

int textlist_read(const char *path, char ***items, long *n, Err *e) {
    return textlist_read_lines(path, items, n, NULL, e);
}

int textlist_read_lines(const char *path, char ***items, long *n, long **lines, Err *e) {
    *items = NULL, *n = 0;
    if (lines) *lines = NULL;
    size_t len = 0;
    char *text = fs_read_all(path, PYLIST_MAX_BYTES, &len, e);
    if (!text) return -1;
    List out = {0};
    long *ln = NULL, ln_cap = 0;   // the line of each key (when lines is wanted)
    size_t at = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
    int rc = 0;
    for (long line = 1; at < len && !rc; line++) {
        char *s = text + at, *nl = memchr(s, '\n', len - at);
        size_t k = nl ? (size_t)(nl - s) : len - at;
        at += k + (nl != NULL);
        if (k && s[k - 1] == '\r') k--;
        const char *nul = memchr(s, 0, k);
        size_t ok = nul ? 0 : ds_utf8_prefix(s, k);
        if (nul)
            rc = err_set(e, "%s:%ld: NUL byte at byte %zu of the line; a key list is UTF-8 text", path, line,
                         (size_t)(nul - s) + 1);
        else if (ok != k)
            rc = err_set(e, "%s:%ld: invalid UTF-8 at byte %zu of the line (0x%02x); a key list is UTF-8 text",
                         path, line, ok + 1, (unsigned char)s[ok]);
        if (rc) break;
        while (k && (*s == ' ' || *s == '\t')) s++, k--;
        while (k && (s[k - 1] == ' ' || s[k - 1] == '\t')) k--;
        if (k && *s != '#') rc = list_take(&out, copy_bytes(s, k), path, e);
        if (!rc && k && *s != '#' && lines) {
            if (out.n > ln_cap) {
                long cap = ln_cap ? 2 * ln_cap : 64, *grown = realloc(ln, (size_t)cap * sizeof *ln);
                if (!grown) rc = err_set(e, "%s: out of memory after %ld keys", path, out.n);
                else ln = grown, ln_cap = cap;
            }
            if (!rc) ln[out.n - 1] = line;
        }
    }
    free(text);
    if (rc) {
        list_drop(&out);
        free(ln);
        return -1;
    }
    *items = out.v, *n = out.n;
    if (lines) *lines = ln;
    return 0;
}

void pylist_free(char **items, long n) {
    for (long i = 0; items && i < n; i++) free(items[i]);
    free(items);
}

// ---- classes from the keys' folders ----

size_t keylist_folder_len(const char *key) {
    const char *s = strchr(key, '/');
    return s ? (size_t)(s - key) : 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int keylist_classes(const char *const *keys, long n, int *label) {
    char **f = malloc((size_t)(n > 0 ? n : 1) * sizeof(char *));
    if (!f) return -1;
    long nf = 0;
    int rc = 0;
    for (long i = 0; i < n && !rc; i++)   // the folders, sorted, each once
        if ((f[nf] = strndup(keys[i], keylist_folder_len(keys[i])))) nf++;
        else rc = -1;
    qsort(f, (size_t)nf, sizeof(char *), cmp_str);
    long u = 0;
    for (long i = 0; i < nf; i++) {
        if (u && !strcmp(f[u - 1], f[i])) { free(f[i]); continue; }
        f[u++] = f[i];
    }
    for (long i = 0; i < n && !rc; i++) {
        char *q = strndup(keys[i], keylist_folder_len(keys[i]));
        char **hit = q ? bsearch(&q, f, (size_t)u, sizeof(char *), cmp_str) : NULL;
        free(q);
        if (hit) label[i] = (int)(hit - f);
        else rc = -1;
    }
    for (long i = 0; i < u; i++) free(f[i]);
    free(f);
    return rc ? -1 : (int)u;
}
