// options: the one command-line parser of every `ratlip` command and subcommand. A command describes
// its options and positional arguments once, in a table (like io/config.c's key table): long name,
// short name, type, range, default, help line. opt_parse fills the destinations from argv, refuses
// anything it cannot parse whole, and prints the usage generated from the same table for --help/-h.
//
//   const char *out = NULL;
//   long size;
//   OptList sets;
//   const OptSpec opts[] = {
//       OPT_PATH("out", 'o', &out, OPT_REQ, "DIR", "where the shards go"),
//       OPT_LONG("size", 0, &size, 0, 8, 4096, "64", "S", "image side in pixels"),
//       OPT_LIST("set", 's', &sets, "K=V", "override one config key"),
//       {0}};
//   const OptCommand cmd = {"data synth", NULL, "Writes the built-in synthetic dataset.", NULL, opts};
//   int rc = opt_parse(&cmd, argc, argv);   // argv[0] is the (sub)command's name
//   if (rc != OPT_CONTINUE) return rc;      // --help printed (0), or an error printed (1 or 2)
//   ...
//   free(sets.v);
//
// Syntax: --name VALUE, --name=VALUE, -s VALUE, -sVALUE, a flag alone (--raw, -r); "--" ends the
// options; anything else not starting with '-' (or "-" itself) is a positional argument, taken by the
// OPT_ARG/OPT_ARGS entries in table order. Options and positional arguments may be interleaved; a
// repeated option that is not a list keeps its last value. --help/-h anywhere prints the usage and
// exits 0, even after an error.
//
// Exit statuses (OPT_EXIT_*, printed at the end of every usage):
//   0  --help printed (and the command's success)
//   1  an option or argument value is invalid: not a number, out of range, not one of the choices
//      (with a did-you-mean for a near miss: --dataset bird → 'birds'), an empty path (the same status
//      as a run-time failure)
//   2  the command line is malformed: unknown option (with a did-you-mean), missing value, missing
//      required option or argument, extra argument, unknown subcommand
// Errors are one line on stderr naming the option and what it accepts, e.g.
//   ratlip train: --steps wants an integer in 1..1000000000, got 'abc'
#pragma once
#include <stdio.h>

typedef enum {
    OT_FLAG,    // int*: 1 when given (no value)
    OT_INT,     // int*: decimal integer in [lo, hi]
    OT_LONG,    // long*: decimal integer in [lo, hi]
    OT_DOUBLE,  // double*: finite number in [dlo, dhi] (OPT_LO_OPEN/OPT_HI_OPEN exclude an end)
    OT_STRING,  // const char **: any text
    OT_PATH,    // const char **: a file or directory name, not empty
    OT_CHOICE,  // const char **: one of `choices` ("a|b|c"), as given (points into argv or at the default)
} OptType;

enum {
    OPT_REQ = 1,       // must be given
    OPT_LO_OPEN = 2,   // OT_DOUBLE: lo itself is refused
    OPT_HI_OPEN = 4,   // OT_DOUBLE: hi itself is refused
    OPT_MANY_ = 8,     // (set by OPT_LIST/OPT_ARGS) repeatable; dest is an OptList*
    OPT_POS_ = 16,     // (set by OPT_ARG/OPT_ARGS) positional argument; name is its placeholder
};

// The values of a repeatable option or of the trailing positional arguments, in command-line order.
// v is NULL-terminated (NULL when none was given) and is the caller's to free() after a successful
// opt_parse; on any other outcome opt_parse has freed it.
typedef struct {
    char **v;
    int n;
} OptList;

typedef struct {
    const char *name;     // long name without "--"; for a positional argument its placeholder ("DIR")
    char short_name;      // 0: none
    OptType type;
    unsigned flags;       // OPT_REQ, OPT_LO_OPEN, OPT_HI_OPEN (OPT_MANY_/OPT_POS_ by the macros)
    void *dest;           // see OptType (an OptList* when OPT_MANY_)
    long lo, hi;          // OT_INT, OT_LONG: accepted range, inclusive
    double dlo, dhi;      // OT_DOUBLE: accepted range
    const char *choices;  // OT_CHOICE: "torch|onnx"
    const char *def;      // default, parsed like a value from argv before argv is read; shown in the help.
                          // NULL: the destination is zeroed (numbers 0, strings NULL: "not given")
    const char *metavar;  // value placeholder in the usage ("N", "FILE")
    const char *help;     // one line ('\n' continues it on the next line)
} OptSpec;

// Table entries. p must point to the destination's type (checked at compile time).
#define OPT_TYPED_(T, p) ((void *)(1 ? (p) : (T *)0))
#define OPT_FLAG(l, s, p, h) {.name = (l), .short_name = (s), .type = OT_FLAG, .dest = OPT_TYPED_(int, p), .help = (h)}
#define OPT_INT(l, s, p, f, lo_, hi_, d, m, h)                                                                       \
    {.name = (l), .short_name = (s), .type = OT_INT, .flags = (f), .dest = OPT_TYPED_(int, p), .lo = (lo_), .hi = (hi_), \
     .def = (d), .metavar = (m), .help = (h)}
#define OPT_LONG(l, s, p, f, lo_, hi_, d, m, h)                                                                      \
    {.name = (l), .short_name = (s), .type = OT_LONG, .flags = (f), .dest = OPT_TYPED_(long, p), .lo = (lo_),         \
     .hi = (hi_), .def = (d), .metavar = (m), .help = (h)}
#define OPT_DOUBLE(l, s, p, f, lo_, hi_, d, m, h)                                                                    \
    {.name = (l), .short_name = (s), .type = OT_DOUBLE, .flags = (f), .dest = OPT_TYPED_(double, p), .dlo = (lo_),     \
     .dhi = (hi_), .def = (d), .metavar = (m), .help = (h)}
#define OPT_STRING(l, s, p, f, d, m, h)                                                                              \
    {.name = (l), .short_name = (s), .type = OT_STRING, .flags = (f), .dest = OPT_TYPED_(const char *, p),            \
     .def = (d), .metavar = (m), .help = (h)}
#define OPT_PATH(l, s, p, f, m, h)                                                                                   \
    {.name = (l), .short_name = (s), .type = OT_PATH, .flags = (f), .dest = OPT_TYPED_(const char *, p),              \
     .metavar = (m), .help = (h)}
#define OPT_CHOICE(l, s, p, f, c, d, h)                                                                              \
    {.name = (l), .short_name = (s), .type = OT_CHOICE, .flags = (f), .dest = OPT_TYPED_(const char *, p),            \
     .choices = (c), .def = (d), .metavar = (c), .help = (h)}
// repeatable text option (--set K=V ...)
#define OPT_LIST(l, s, p, m, h)                                                                                      \
    {.name = (l), .short_name = (s), .type = OT_STRING, .flags = OPT_MANY_, .dest = OPT_TYPED_(OptList, p),           \
     .metavar = (m), .help = (h)}
// one positional argument (a path); f: OPT_REQ or 0
#define OPT_ARG(m, p, f, h)                                                                                          \
    {.name = (m), .type = OT_PATH, .flags = OPT_POS_ | (f), .dest = OPT_TYPED_(const char *, p), .metavar = (m),      \
     .help = (h)}
// all remaining positional arguments (text; after any OPT_ARG entries); f: OPT_REQ (at least one) or 0
#define OPT_ARGS(m, p, f, h)                                                                                         \
    {.name = (m), .type = OT_STRING, .flags = OPT_POS_ | OPT_MANY_ | (f), .dest = OPT_TYPED_(OptList, p),             \
     .metavar = (m), .help = (h)}

typedef struct {
    const char *name;      // "train", "data synth": in the usage and in every message
    const char *synopsis;  // the usage line after "usage: ratlip NAME "; NULL: generated from the table
    const char *about;     // free text between the usage line and the options (may be NULL)
    const char *epilog;    // free text after the options (may be NULL)
    const OptSpec *opts;   // terminated by {0}
} OptCommand;

enum { OPT_CONTINUE = -1, OPT_EXIT_OK = 0, OPT_EXIT_VALUE = 1, OPT_EXIT_USAGE = 2 };

// Parses argv[1..argc) against c->opts (argv[0] is the command's own name). Returns OPT_CONTINUE when
// the command should run, else the exit status to return at once: OPT_EXIT_OK after printing the
// usage for --help/-h (stdout), OPT_EXIT_VALUE or OPT_EXIT_USAGE after printing one error line.
int opt_parse(const OptCommand *c, int argc, char **argv);
// The generated usage (what --help prints).
void opt_usage(const OptCommand *c, FILE *f);

// A subcommand of a command group (also the top-level command table of jobs/main.c).
typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);  // argv[0] is the subcommand's name
    const char *summary;
} Command;

// `ratlip GROUP SUB ...`: runs the subcommand argv[1] of subs[0..n) with argv shifted by one. No
// subcommand: the group's usage on stderr, exit 2; --help/-h: on stdout, exit 0; an unknown one: an
// error with a did-you-mean, exit 2.
int opt_dispatch(const char *group, const char *about, const Command *subs, int n, int argc, char **argv);

// "--help" or "-h" (jobs/main.c: commands that only print help skip the start-up probes).
int jobs_is_help(const char *arg);
