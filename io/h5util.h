// h5util: small HDF5 helpers the io modules share: typed scalar/string attributes and quieting the
// library's error-stack printing (our errors are values with our own messages). Durable file
// replacement (write <path>.tmp, fsync, rename, fsync the directory) is io/fs.h's fs_commit.
#pragma once
#include <hdf5.h>
#include <stdint.h>
#include "core/err.h"

// Turns HDF5's automatic error printing off for a scope; restore with h5u_quiet_end.
typedef struct { H5E_auto2_t func; void *data; } H5Quiet;
H5Quiet h5u_quiet_begin(void);
void h5u_quiet_end(H5Quiet q);

// Scalar attributes on any object (file, group, dataset). Writing replaces an existing attribute.
int h5u_attr_write_i64(hid_t obj, const char *name, int64_t v);
int h5u_attr_write_f64(hid_t obj, const char *name, double v);
int h5u_attr_write_str(hid_t obj, const char *name, const char *s);   // variable-length UTF-8
// Reads return 0 on success, -1 when missing or of an unconvertible type.
int h5u_attr_read_i64(hid_t obj, const char *name, int64_t *v);
int h5u_attr_read_f64(hid_t obj, const char *name, double *v);
char *h5u_attr_read_str(hid_t obj, const char *name);                 // malloc'd, NULL when missing

// Are all elements of dataset d, as many as its shape says, stored in the file? HDF5 reads data that
// was never written as fill values, with no checksum to fail, so a damaged shape or chunk index would
// hand out zeros: gigabytes of them for a file of kilobytes. ratlip writes every dataset in full and
// uncompressed (Fletcher-32 at most); for one compressed by another tool (any other filter) only the
// layout is checked: chunks of the shape's rank.
int h5u_stored_in_full(hid_t d);
