// pylist: the image key lists of the DF-GAN/AttnGAN datasets, `<data_dir>/{train,test}/filenames.pickle`
// (e.g. '001.Black_footed_Albatross/Black_Footed_Albatross_0046_18'), read without Python, and the plain
// text list (`--train-list`/`--test-list`) that replaces one.
//
// Only what pickle.dump writes for a Python list of str with protocols 2-4 is read, a small state
// machine over these opcodes (no general unpickler: nothing is called, nothing nests, no recursion):
//   PROTO 2..4 (must be the first byte), FRAME (protocol 4: an 8-byte length, skipped), EMPTY_LIST (the
//   one list), MARK ... APPENDS (batches of up to 1000), APPEND (one), MEMOIZE, BINPUT, LONG_BINPUT
//   (memo put), BINGET, LONG_BINGET (a memoized string again; the list itself is refused), STOP (last byte).
//   Strings: SHORT_BINUNICODE, BINUNICODE, BINUNICODE8 (str: UTF-8, checked) and SHORT_BINSTRING,
//   BINSTRING (Python 2's str, bytes): kept as they are when valid UTF-8 (a Python 2 file name is the
//   name's bytes), else read as Latin-1 (pickle.load(f, encoding='latin1')) and converted to UTF-8.
// Anything else (a dict, ints, nested lists, bytes (Python 3 writes them as a _codecs.encode call),
// protocol 0/1 text opcodes, protocol 5) is refused: the error names the file, the byte offset and the
// opcode in hex, and says how to convert the file to a text list. Damaged files (truncated, no STOP,
// lengths past the end, NUL bytes, invalid UTF-8, bytes after STOP) are errors naming file and offset.
//
// Text list: one key per line, UTF-8 (a leading byte-order mark is dropped); CRLF line ends, blank lines
// and lines whose first non-blank character is '#' are skipped; spaces and tabs around a key are
// stripped. A line with a NUL byte or invalid UTF-8 is refused naming the file and the line.
#pragma once
#include <stddef.h>
#include "core/err.h"

#define PYLIST_MAX_BYTES ((size_t)1 << 30)   // a larger list file is refused (COCO's: ~3 MB)

// Reads path, a pickled list of str. On success *items is a malloc'd array of *n malloc'd NUL-terminated
// UTF-8 strings in list order (NULL when *n is 0; free with pylist_free). On failure -1 with e set and
// *items NULL, *n 0.
int pylist_read(const char *path, char ***items, long *n, Err *e);
// The same from len bytes in memory; name stands for the file in messages.
int pylist_parse(const unsigned char *buf, size_t len, const char *name, char ***items, long *n, Err *e);
// Reads path, a text list (see above), into *items / *n as pylist_read does.
int textlist_read(const char *path, char ***items, long *n, Err *e);
// The same, and *lines (malloc'd [*n], free(); NULL when *n is 0) the line of each key, for messages.
int textlist_read_lines(const char *path, char ***items, long *n, long **lines, Err *e);
void pylist_free(char **items, long n);

// Keys with class folders ("001.Albatross/Albatross_0046"): the folder's length (13), 0 without one.
size_t keylist_folder_len(const char *key);
// label[i] = the index of keys[i]'s class folder among the sorted distinct folders of keys[0..n) (every
// key has one: keylist_folder_len > 0). Returns the number of classes, or -1 when out of memory.
int keylist_classes(const char *const *keys, long n, int *label);
