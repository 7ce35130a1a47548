#ifndef EGRESS_CPCRE2_SHIM_H
#define EGRESS_CPCRE2_SHIM_H
#include <stddef.h>

// PCRE2's API names are macros over width-suffixed functions; fix the width to 8 bits
// so the `_8` functions (pcre2_compile_8, pcre2_jit_match_8, ...) are declared.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

// memmem is a GNU extension of glibc. Defining _GNU_SOURCE here would change libc's own
// structs (fd_set) in this module and clash with Swift's Glibc module in a clean build, so
// the one prototype is declared by hand instead.
extern void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen);

/// Vectorised substring search (libc memmem), used to skip patterns whose literal prefix
/// does not occur in a body. Wrapped because Swift's Glibc module does not declare it.
static inline const void *_Nullable cpcre2_memmem(const void *_Nonnull haystack, size_t haystack_len,
                                                  const void *_Nonnull needle, size_t needle_len) {
    return memmem(haystack, haystack_len, needle, needle_len);
}
#endif
