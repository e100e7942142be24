// Kernels for any CPU: lane vectors of 4 floats, the width of the baseline SIMD registers
// (SSE2 on x86-64, NEON on arm64), so the compiler keeps them in registers.
#define PIANOX_LANES 4
#define PIANOX_ISA isa_generic
#include "lanes.hpp"
#include "fft_lanes.hpp"
#include "frontend_lanes.hpp"

namespace pianox {
extern const Kernels kernels_generic;
const Kernels kernels_generic{"generic", PIANOX_LANES, isa_generic::rfft_rows, isa_generic::fft_rows,
                              isa_generic::frontend_items};
}  // namespace pianox
