#ifndef EGRESS_CPCRE2_SHIM_H
#define EGRESS_CPCRE2_SHIM_H
// PCRE2's API names are macros over width-suffixed functions; fix the width to 8 bits
// so the `_8` functions (pcre2_compile_8, pcre2_jit_match_8, ...) are declared.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif
