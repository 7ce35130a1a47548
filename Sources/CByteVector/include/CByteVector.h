// Byte-vector helpers the Swift scanners cannot express: the lane mask of a 16-byte
// vector as an integer. Swift has no operation for it, and computing it with
// multiplies costs a dozen instructions where x86's SSE2 (part of every x86-64 CPU) and
// this header's one `pmovmskb` do it in one; other CPUs get the portable loop below.
#ifndef C_BYTE_VECTOR_H
#define C_BYTE_VECTOR_H

#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// Imported into Swift as `SIMD16<UInt8>`.
typedef uint8_t cbv_u8x16 __attribute__((ext_vector_type(16)));

/// Bit k set when byte k of `v` has its top bit set (a compare result is 0xFF or 0).
static inline uint32_t cbv_movemask(cbv_u8x16 v) {
#if defined(__SSE2__)
    return (uint32_t)_mm_movemask_epi8((__m128i)v);
#else
    uint32_t bits = 0;
    for (int k = 0; k < 16; k++) bits |= (uint32_t)(v[k] >> 7) << k;
    return bits;
#endif
}

#endif
