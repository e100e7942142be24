// Kernels for x86-64 CPUs with AVX-512 (this file is compiled with -mavx512f -mavx512dq
// -mavx512vl -mavx512bw -mfma; it is only called after the CPU has been checked, see dispatch.cpp).
#if defined(PIANOX_HAVE_AVX512)
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_ps(), which -Wuninitialized flags.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define PIANOX_LANES 16
#define PIANOX_ISA isa_avx512
#include "lanes.hpp"
#include "fft_lanes.hpp"
#include "frontend_lanes.hpp"

namespace pianox {
extern const Kernels kernels_avx512;
const Kernels kernels_avx512{"avx512", PIANOX_LANES, isa_avx512::rfft_rows, isa_avx512::fft_rows,
                             isa_avx512::frontend_items};
}  // namespace pianox
#endif
