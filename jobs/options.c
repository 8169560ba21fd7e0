// options: the command-line parser every `ratlip` command uses (jobs/options.h): one table per
// command, strict values, generated usage, did-you-mean for unknown options and subcommands.
#include "jobs/options.h"
#include "io/config.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jobs_is_help(const char *arg) { return !strcmp(arg, "--help") || !strcmp(arg, "-h"); }

static const char exit_note[] =
    "exit status: 0 done (and --help), 1 failed or an invalid option value, 2 a malformed command line\n"
    "(unknown option, missing value, missing or extra argument)\n";

// ---- did-you-mean ----

// The closest of names[0..n) to `got` (within 2 edits, or got a prefix of it), else NULL.
static const char *nearest(const char *got, const char *const *names, int n) {
    const char *best = NULL;
    int bd = 3;
    for (int i = 0; i < n; i++) {
        int d = config_edit_distance(got, names[i]);
        if (d > 2 && strlen(got) >= 2 && !strncmp(names[i], got, strlen(got))) d = 2;  // a prefix: --run → --run-dir
        if (d < bd) bd = d, best = names[i];
    }
    return best;
}

// ---- values ----

typedef struct {
    const OptCommand *c;
    int failed;    // OPT_EXIT_VALUE or OPT_EXIT_USAGE once an error is recorded
    char msg[640]; // the first error
    int argc;
} Parser;

static void fail(Parser *p, int status, const char *fmt, ...) {
    if (p->failed) return;  // the first error is the one reported
    p->failed = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
}

// "--steps" or "STEPS": how messages name an entry.
static void display_name(const OptSpec *s, char *buf, size_t n) {
    if (s->flags & OPT_POS_) snprintf(buf, n, "%s", s->name);
    else snprintf(buf, n, "--%s", s->name);
}

static int is_choice(const char *choices, const char *v) {
    size_t n = strlen(v);
    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (n && len == n && !strncmp(c, v, n)) return 1;
        c += len + (bar ? 1 : 0);
    }
    return 0;
}

// The choice of "a|b|c" nearest to v (nearest()'s rule: edit distance <= 2, or v a prefix of it), copied
// into buf; NULL when none is near.
static const char *near_choice(const char *choices, const char *v, char *buf, size_t n) {
    char words[32][64];
    const char *names[32];
    int k = 0;
    for (const char *c = choices; *c && k < 32;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        snprintf(words[k], sizeof words[k], "%.*s", (int)len, c);
        names[k] = words[k];
        k++;
        c += len + (bar ? 1 : 0);
    }
    const char *near = *v ? nearest(v, names, k) : NULL;
    if (!near) return NULL;
    snprintf(buf, n, "%s", near);
    return buf;
}

static void range_text(const OptSpec *s, char *buf, size_t n) {
    switch (s->type) {
    case OT_INT:
    case OT_LONG: snprintf(buf, n, "an integer in %ld..%ld", s->lo, s->hi); break;
    case OT_DOUBLE:
        snprintf(buf, n, "a number in %c%g, %g%c", s->flags & OPT_LO_OPEN ? '(' : '[', s->dlo, s->dhi,
                 s->flags & OPT_HI_OPEN ? ')' : ']');
        break;
    case OT_CHOICE: {
        size_t k = (size_t)snprintf(buf, n, "one of ");
        for (const char *c = s->choices; *c && k + 3 < n; c++) {
            if (*c == '|') buf[k++] = ',', buf[k++] = ' ';
            else buf[k++] = *c;
        }
        buf[k < n ? k : n - 1] = 0;
        break;
    }
    case OT_PATH: snprintf(buf, n, "a non-empty path"); break;
    default: snprintf(buf, n, "a value"); break;
    }
}

// Stores value v of entry s; 0 or -1 (a message recorded). v must stay valid (argv or a literal).
static int store(Parser *p, const OptSpec *s, char *v) {
    char nm[96], want[256];
    display_name(s, nm, sizeof nm);
    switch (s->type) {
    case OT_FLAG: *(int *)s->dest = 1; return 0;
    case OT_INT:
    case OT_LONG: {
        char *end = NULL;
        errno = 0;
        long x = strtol(v, &end, 10);
        if (!*v || isspace((unsigned char)*v) || *end || errno || x < s->lo || x > s->hi) break;
        if (s->type == OT_INT) *(int *)s->dest = (int)x;
        else *(long *)s->dest = x;
        return 0;
    }
    case OT_DOUBLE: {
        char *end = NULL;
        errno = 0;
        double x = strtod(v, &end);
        if (!*v || isspace((unsigned char)*v) || *end || errno || !isfinite(x) || x < s->dlo || x > s->dhi ||
            ((s->flags & OPT_LO_OPEN) && x == s->dlo) || ((s->flags & OPT_HI_OPEN) && x == s->dhi))
            break;
        *(double *)s->dest = x;
        return 0;
    }
    case OT_PATH:
        if (!*v) break;
        /* fall through */
    case OT_STRING:
        if (s->flags & OPT_MANY_) {
            OptList *l = s->dest;
            if (!l->v && !(l->v = calloc((size_t)p->argc + 1, sizeof(char *)))) {
                fail(p, OPT_EXIT_VALUE, "ratlip %s: out of memory", p->c->name);
                return -1;
            }
            l->v[l->n++] = v;
        } else {
            *(const char **)s->dest = v;
        }
        return 0;
    case OT_CHOICE:
        if (!is_choice(s->choices, v)) break;
        *(const char **)s->dest = v;
        return 0;
    }
    range_text(s, want, sizeof want);
    char near[64];
    if (s->type == OT_CHOICE && near_choice(s->choices, v, near, sizeof near))
        fail(p, OPT_EXIT_VALUE, "ratlip %s: %s wants %s, got '%s' (did you mean '%s'?)", p->c->name, nm, want, v, near);
    else fail(p, OPT_EXIT_VALUE, "ratlip %s: %s wants %s, got '%s'", p->c->name, nm, want, v);
    return -1;
}

static void free_lists(const OptCommand *c) {
    for (const OptSpec *s = c->opts; s->name; s++)
        if (s->flags & OPT_MANY_) {
            OptList *l = s->dest;
            free(l->v);
            l->v = NULL;
            l->n = 0;
        }
}

// ---- usage ----

static void print_wrapped(FILE *f, const char *text, int indent) {  // '\n' in help lines: same column
    for (const char *t = text; *t; t++) {
        fputc(*t, f);
        if (*t == '\n' && t[1]) fprintf(f, "%*s", indent, "");
    }
}

void opt_usage(const OptCommand *c, FILE *f) {
    fprintf(f, "usage: ratlip %s", c->name);
    if (c->synopsis) {
        fprintf(f, " %s", c->synopsis);
    } else {
        for (const OptSpec *s = c->opts; s->name; s++) {
            if (!(s->flags & OPT_POS_)) continue;
            int req = (s->flags & OPT_REQ) != 0;
            fprintf(f, " %s%s%s%s", req ? "" : "[", s->name, s->flags & OPT_MANY_ ? "..." : "", req ? "" : "]");
        }
        for (const OptSpec *s = c->opts; s->name; s++) {
            if ((s->flags & OPT_POS_) || !(s->flags & OPT_REQ)) continue;
            if (s->type == OT_FLAG) fprintf(f, " --%s", s->name);
            else fprintf(f, " --%s %s", s->name, s->metavar ? s->metavar : "VALUE");
        }
        fprintf(f, " [options]");
    }
    fputc('\n', f);
    if (c->about) {
        fputc('\n', f);
        fputs(c->about, f);
        if (c->about[0] && c->about[strlen(c->about) - 1] != '\n') fputc('\n', f);
    }
    enum { COL = 24 };
    int have_pos = 0;
    for (const OptSpec *s = c->opts; s->name; s++) have_pos |= (s->flags & OPT_POS_) != 0;
    for (int pass = have_pos ? 0 : 1; pass < 2; pass++) {
        fprintf(f, "\n%s:\n", pass == 0 ? "arguments" : "options");
        for (const OptSpec *s = c->opts; s->name; s++) {
            if (!!(s->flags & OPT_POS_) != (pass == 0)) continue;
            char left[128];
            if (s->flags & OPT_POS_)
                snprintf(left, sizeof left, "  %s%s", s->name, s->flags & OPT_MANY_ ? "..." : "");
            else if (s->type == OT_FLAG)
                snprintf(left, sizeof left, "  %c%c%s--%s", s->short_name ? '-' : ' ', s->short_name ? s->short_name : ' ',
                         s->short_name ? ", " : "  ", s->name);
            else
                snprintf(left, sizeof left, "  %c%c%s--%s %s", s->short_name ? '-' : ' ', s->short_name ? s->short_name : ' ',
                         s->short_name ? ", " : "  ", s->name, s->metavar ? s->metavar : "VALUE");
            int w = (int)strlen(left);
            fputs(left, f);
            if (w + 2 > COL) fprintf(f, "\n%*s", COL, "");
            else fprintf(f, "%*s", COL - w, "");
            print_wrapped(f, s->help ? s->help : "", COL);
            // what it accepts, from the table
            char extra[320] = "";
            size_t k = 0;
            if (s->type == OT_INT || s->type == OT_LONG || s->type == OT_DOUBLE) {
                range_text(s, extra, sizeof extra);
                k = strlen(extra);
            }
            if (s->def && k < sizeof extra) k += (size_t)snprintf(extra + k, sizeof extra - k, "%sdefault %s", k ? ", " : "", s->def);
            if ((s->flags & OPT_MANY_) && !(s->flags & OPT_POS_) && k < sizeof extra)
                k += (size_t)snprintf(extra + k, sizeof extra - k, "%srepeatable", k ? ", " : "");
            if ((s->flags & OPT_REQ) && !(s->flags & OPT_POS_) && k < sizeof extra)
                k += (size_t)snprintf(extra + k, sizeof extra - k, "%srequired", k ? ", " : "");
            if (k) {
                const char *help = s->help ? s->help : "", *last = strrchr(help, '\n');
                size_t last_len = strlen(last ? last + 1 : help);
                if (COL + last_len + k + 3 > 104) fprintf(f, "\n%*s(%s)", COL, "", extra);
                else fprintf(f, " (%s)", extra);
            }
            fputc('\n', f);
        }
        if (pass == 1) fprintf(f, "  -h, --help%*sprint this help and exit\n", COL - 12, "");
    }
    if (c->epilog) {
        fputc('\n', f);
        fputs(c->epilog, f);
        if (c->epilog[0] && c->epilog[strlen(c->epilog) - 1] != '\n') fputc('\n', f);
    }
    fputc('\n', f);
    fputs(exit_note, f);
}

// ---- parsing ----

static const OptSpec *find_long(const OptCommand *c, const char *name, size_t len) {
    for (const OptSpec *s = c->opts; s->name; s++)
        if (!(s->flags & OPT_POS_) && strlen(s->name) == len && !strncmp(s->name, name, len)) return s;
    return NULL;
}

static const OptSpec *find_short(const OptCommand *c, char ch) {
    for (const OptSpec *s = c->opts; s->name; s++)
        if (!(s->flags & OPT_POS_) && s->short_name == ch) return s;
    return NULL;
}

static void unknown_option(Parser *p, const char *arg) {
    const char *names[128];
    int n = 0;
    for (const OptSpec *s = p->c->opts; s->name && n < 127; s++)
        if (!(s->flags & OPT_POS_)) names[n++] = s->name;
    names[n++] = "help";
    char word[128];
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    snprintf(word, sizeof word, "%.*s", (int)(len > 2 ? len - 2 : 0), arg + 2);
    const char *near = arg[1] == '-' ? nearest(word, names, n) : NULL;
    if (near)
        fail(p, OPT_EXIT_USAGE, "ratlip %s: unknown option '%.*s' (did you mean --%s?)", p->c->name, (int)len, arg, near);
    else
        fail(p, OPT_EXIT_USAGE, "ratlip %s: unknown option '%.*s' ('ratlip %s --help' lists the options)", p->c->name,
             (int)len, arg, p->c->name);
}

int opt_parse(const OptCommand *c, int argc, char **argv) {
    Parser p = {.c = c, .argc = argc};
    enum { MAX_SPECS = 128 };
    char given[MAX_SPECS] = {0};  // which entries the command line set (for OPT_REQ)
    for (const OptSpec *s = c->opts; s->name; s++)
        if (s - c->opts >= MAX_SPECS - 1) {
            fprintf(stderr, "ratlip %s: internal error: more than %d options\n", c->name, MAX_SPECS - 1);
            return OPT_EXIT_VALUE;
        }
    // defaults first, through the same conversion: the table is the one place they are written
    for (const OptSpec *s = c->opts; s->name; s++) {
        if (s->flags & OPT_MANY_) {
            OptList *l = s->dest;
            l->v = NULL;
            l->n = 0;
        } else if (s->type == OT_FLAG || s->type == OT_INT) {
            *(int *)s->dest = 0;
        } else if (s->type == OT_LONG) {
            *(long *)s->dest = 0;
        } else if (s->type == OT_DOUBLE) {
            *(double *)s->dest = 0;
        } else {
            *(const char **)s->dest = NULL;
        }
        if (s->def && store(&p, s, (char *)s->def)) {
            fprintf(stderr, "ratlip %s: internal error: the default of %s: %s\n", c->name, s->name, p.msg);
            free_lists(c);
            return OPT_EXIT_VALUE;
        }
    }
    int help = 0, only_pos = 0;
    const OptSpec *pos = c->opts;  // the next positional entry
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!only_pos && !strcmp(a, "--")) { only_pos = 1; continue; }
        if (only_pos || a[0] != '-' || !a[1]) {  // positional
            while (pos->name && !(pos->flags & OPT_POS_)) pos++;
            if (!pos->name) {
                fail(&p, OPT_EXIT_USAGE, "ratlip %s: unexpected argument '%s'", c->name, a);
                continue;
            }
            if (!p.failed && store(&p, pos, a) == 0) given[pos - c->opts] = 1;
            if (!(pos->flags & OPT_MANY_)) pos++;
            continue;
        }
        if (jobs_is_help(a)) { help = 1; continue; }
        const OptSpec *s;
        char *val = NULL;
        int attached = 0;
        if (a[1] == '-') {
            char *eq = strchr(a, '=');
            s = find_long(c, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
            if (eq) val = eq + 1, attached = 1;
        } else {
            s = find_short(c, a[1]);
            if (s && a[2]) {
                if (s->type == OT_FLAG) s = NULL;  // no bundling of flags: -rq is unknown
                else val = a + 2, attached = 1;
            }
        }
        if (!s) { unknown_option(&p, a); continue; }
        char nm[96];
        display_name(s, nm, sizeof nm);
        if (s->type == OT_FLAG) {
            if (attached) fail(&p, OPT_EXIT_USAGE, "ratlip %s: %s takes no value ('%s')", c->name, nm, a);
            else if (!p.failed) store(&p, s, NULL);
            given[s - c->opts] = 1;
            continue;
        }
        if (!attached) {
            if (i + 1 >= argc) {
                fail(&p, OPT_EXIT_USAGE, "ratlip %s: %s needs a value (%s)", c->name, nm, s->metavar ? s->metavar : "VALUE");
                continue;
            }
            val = argv[++i];  // taken as the value even when it starts with '-' (--seed -1 is then refused as a value)
        }
        if (!p.failed && store(&p, s, val) == 0) given[s - c->opts] = 1;
    }
    if (help) {
        free_lists(c);
        opt_usage(c, stdout);
        return OPT_EXIT_OK;
    }
    for (const OptSpec *s = c->opts; !p.failed && s->name; s++) {
        if (!(s->flags & OPT_REQ) || given[s - c->opts]) continue;
        char nm[96];
        display_name(s, nm, sizeof nm);
        if (s->flags & OPT_POS_)
            fail(&p, OPT_EXIT_USAGE, "ratlip %s: the argument %s%s is missing ('ratlip %s --help')", c->name, nm,
                 s->flags & OPT_MANY_ ? "..." : "", c->name);
        else
            fail(&p, OPT_EXIT_USAGE, "ratlip %s: %s %s is required ('ratlip %s --help')", c->name, nm,
                 s->metavar ? s->metavar : "VALUE", c->name);
    }
    if (p.failed) {
        fprintf(stderr, "%s\n", p.msg);
        free_lists(c);
        return p.failed;
    }
    return OPT_CONTINUE;
}

// ---- command groups ----

int opt_dispatch(const char *group, const char *about, const Command *subs, int n, int argc, char **argv) {
    if (argc >= 2 && !jobs_is_help(argv[1]))
        for (int i = 0; i < n; i++)
            if (!strcmp(argv[1], subs[i].name)) return subs[i].run(argc - 1, argv + 1);
    int help = argc >= 2 && jobs_is_help(argv[1]);
    if (argc >= 2 && !help) {
        const char *names[32];
        for (int i = 0; i < n && i < 32; i++) names[i] = subs[i].name;
        const char *near = argv[1][0] == '-' ? NULL : nearest(argv[1], names, n < 32 ? n : 32);
        if (near) fprintf(stderr, "ratlip %s: unknown subcommand '%s' (did you mean %s?)\n", group, argv[1], near);
        else fprintf(stderr, "ratlip %s: unknown subcommand '%s' ('ratlip %s --help' lists them)\n", group, argv[1], group);
        return OPT_EXIT_USAGE;
    }
    FILE *f = help ? stdout : stderr;
    if (!help) fprintf(f, "ratlip %s: a subcommand is required\n", group);
    fprintf(f, "usage: ratlip %s <subcommand> [options]   (ratlip %s <subcommand> --help for its options)\n", group, group);
    if (about) {
        fputc('\n', f);
        fputs(about, f);
        if (about[0] && about[strlen(about) - 1] != '\n') fputc('\n', f);
    }
    fprintf(f, "\nsubcommands:\n");
    for (int i = 0; i < n; i++) fprintf(f, "  %-10s %s\n", subs[i].name, subs[i].summary);
    fputc('\n', f);
    fputs(exit_note, f);
    return help ? OPT_EXIT_OK : OPT_EXIT_USAGE;
}
