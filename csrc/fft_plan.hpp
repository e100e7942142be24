// FFT plans: the factorisation, twiddle tables and Bluestein chirps for one transform size.
// Plans are built once per size (in double precision, stored as float) and cached; the
// transforms themselves live in fft_lanes.hpp, compiled once per instruction set.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace pianox {

// A forward complex DFT of size n, X_k = sum_j x_j exp(-2 pi i jk / n).
// Direct plans are a sequence of Stockham autosort stages of radix 4, 2, 3 or 5; sizes with a
// prime factor above 5 go through Bluestein's chirp-z convolution with a power-of-two plan.
struct ComplexPlan {
  int n = 0;
  std::vector<int> radices;                 // stage radices, first stage first (direct plans)
  std::vector<std::size_t> twiddle_offset;  // per stage: offset of its table in `twiddles`
  // Per stage of radix r over sub-size n_s = r * m: for p < m and k = 1..r-1 the pair
  // (re, im) of exp(-2 pi i p k / n_s), stored at [offset + 2 * (p * (r - 1) + k - 1)].
  std::vector<float> twiddles;

  // Bluestein (m > 0): a_j = x_j c_j, X_k = c_k conj(FFT_m(conj(FFT_m(a) * kernel)))_k.
  int m = 0;
  std::shared_ptr<const ComplexPlan> inner;  // the power-of-two plan of size m
  std::vector<float> chirp;                  // 2n floats: c_j = exp(-i pi j^2 / n)
  std::vector<float> kernel;                 // 2m floats: FFT_m(conj chirp, wrapped) / m

  bool bluestein() const { return m > 0; }
  // Lane vectors of scratch a transform needs besides its own re/im arrays.
  std::size_t scratch_vectors() const;
};

// A forward DFT of n real samples, giving bins k = 0..n/2. Even n: a complex transform of
// n/2 points on the samples packed as (x_2j + i x_2j+1), then the split step with `split`.
// Odd n: a complex transform of n points with zero imaginary part.
struct RealPlan {
  int n = 0;
  bool packed = false;
  std::shared_ptr<const ComplexPlan> complex;
  std::vector<float> split;  // packed only: (re, im) of exp(-2 pi i k / n) for k = 0..n/2

  int complex_size() const { return packed ? n / 2 : n; }
  int bins() const { return n / 2 + 1; }
  std::size_t scratch_vectors() const;  // lane vectors, including the packed re/im arrays
};

// Cached, thread-safe plan lookup. n must be >= 1.
std::shared_ptr<const ComplexPlan> complex_plan(int n);
std::shared_ptr<const RealPlan> real_plan(int n);

}  // namespace pianox
