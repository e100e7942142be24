// Kernels for x86-64 CPUs with AVX2 and FMA (this file is compiled with -mavx2 -mfma; it is only
// called after the CPU has been checked, see dispatch.cpp).
#if defined(PIANOX_HAVE_AVX2)
#define PIANOX_LANES 8
#define PIANOX_ISA isa_avx2
#include "lanes.hpp"
#include "fft_lanes.hpp"
#include "frontend_lanes.hpp"

namespace pianox {
extern const Kernels kernels_avx2;
const Kernels kernels_avx2{"avx2", PIANOX_LANES, isa_avx2::rfft_rows, isa_avx2::fft_rows, isa_avx2::frontend_items};
}  // namespace pianox
#endif
