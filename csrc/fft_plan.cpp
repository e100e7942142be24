#include "fft_plan.hpp"

#include <cmath>
#include <complex>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

namespace pianox {

namespace {

constexpr double kPi = 3.14159265358979323846264338327950288;

// exp(-2 pi i num / den) with the angle reduced exactly first, so large products stay accurate.
std::complex<double> root_of_unity(std::int64_t num, std::int64_t den) {
  num %= den;
  if (num < 0) num += den;
  const double angle = -2.0 * kPi * static_cast<double>(num) / static_cast<double>(den);
  return {std::cos(angle), std::sin(angle)};
}

// In-place double-precision radix-2 FFT (power-of-two size): only used to build Bluestein kernels.
void fft_double(std::vector<std::complex<double>> &a) {
  const std::size_t n = a.size();
  for (std::size_t i = 1, j = 0; i < n; ++i) {
    std::size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  for (std::size_t len = 2; len <= n; len <<= 1) {
    for (std::size_t start = 0; start < n; start += len) {
      for (std::size_t k = 0; k < len / 2; ++k) {
        const std::complex<double> w = root_of_unity(static_cast<std::int64_t>(k), static_cast<std::int64_t>(len));
        const std::complex<double> u = a[start + k], v = a[start + k + len / 2] * w;
        a[start + k] = u + v;
        a[start + k + len / 2] = u - v;
      }
    }
  }
}

void push_complex(std::vector<float> &out, std::complex<double> z) {
  out.push_back(static_cast<float>(z.real()));
  out.push_back(static_cast<float>(z.imag()));
}

std::shared_ptr<ComplexPlan> build_complex(int n) {
  auto plan = std::make_shared<ComplexPlan>();
  plan->n = n;
  int rest = n;
  std::vector<int> radices;
  // Powers of two as radix 8 (fewest passes), the remainder as 4 x 4, 4 or 2.
  int twos = 0;
  while (rest % 2 == 0) ++twos, rest /= 2;
  int eights = twos / 3;
  std::vector<int> tail;
  if (twos % 3 == 2) tail = {4};
  if (twos % 3 == 1) {
    if (eights > 0) --eights, tail = {4, 4};
    else tail = {2};
  }
  radices.assign(static_cast<std::size_t>(eights), 8);
  radices.insert(radices.end(), tail.begin(), tail.end());
  while (rest % 3 == 0) radices.push_back(3), rest /= 3;
  while (rest % 5 == 0) radices.push_back(5), rest /= 5;

  if (rest == 1) {
    plan->radices = radices;
    int sub = n;
    for (int r : radices) {
      plan->twiddle_offset.push_back(plan->twiddles.size());
      const int m = sub / r;
      for (int p = 0; p < m; ++p)
        for (int k = 1; k < r; ++k) push_complex(plan->twiddles, root_of_unity(std::int64_t{p} * k, sub));
      sub = m;
    }
    return plan;
  }

  // Bluestein: n has a prime factor above 5. jk = (j^2 + k^2 - (k - j)^2) / 2 turns the DFT into
  // a convolution with the chirp exp(i pi j^2 / n), done as a cyclic one of power-of-two size m.
  int m = 1;
  while (m < 2 * n - 1) m *= 2;
  plan->m = m;
  plan->inner = complex_plan(m);
  const std::int64_t two_n = 2 * static_cast<std::int64_t>(n);
  std::vector<std::complex<double>> chirp(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n; ++j) {
    // exp(-i pi j^2 / n) = root_of_unity(j^2 mod 2n, 2n); reducing j^2 first keeps the angle exact.
    chirp[static_cast<std::size_t>(j)] = root_of_unity((j * j) % two_n, two_n);
    push_complex(plan->chirp, chirp[static_cast<std::size_t>(j)]);
  }
  std::vector<std::complex<double>> b(static_cast<std::size_t>(m));
  b[0] = std::conj(chirp[0]);
  for (int j = 1; j < n; ++j) b[static_cast<std::size_t>(j)] = b[static_cast<std::size_t>(m - j)] = std::conj(chirp[static_cast<std::size_t>(j)]);
  fft_double(b);
  for (auto &z : b) push_complex(plan->kernel, z / static_cast<double>(m));
  return plan;
}

std::shared_ptr<RealPlan> build_real(int n) {
  auto plan = std::make_shared<RealPlan>();
  plan->n = n;
  plan->packed = n % 2 == 0;
  plan->complex = complex_plan(plan->complex_size());
  if (plan->packed)
    for (int k = 0; k <= n / 2; ++k) push_complex(plan->split, root_of_unity(k, n));
  return plan;
}

template <class Plan, class Build>
std::shared_ptr<const Plan> cached(std::map<int, std::shared_ptr<const Plan>> &cache, std::mutex &lock, int n,
                                   Build build) {
  if (n < 1) throw std::invalid_argument("FFT size must be >= 1, got " + std::to_string(n));
  {
    std::lock_guard<std::mutex> guard(lock);
    auto it = cache.find(n);
    if (it != cache.end()) return it->second;
  }
  // Built outside the lock: a Bluestein plan asks the cache for its inner plan.
  std::shared_ptr<const Plan> plan = build(n);
  std::lock_guard<std::mutex> guard(lock);
  return cache.emplace(n, plan).first->second;
}

}  // namespace

std::size_t ComplexPlan::scratch_vectors() const {
  if (bluestein()) return 2 * static_cast<std::size_t>(m) + inner->scratch_vectors();
  return 2 * static_cast<std::size_t>(n);
}

std::size_t RealPlan::scratch_vectors() const {
  return 2 * static_cast<std::size_t>(complex_size()) + complex->scratch_vectors();
}

std::shared_ptr<const ComplexPlan> complex_plan(int n) {
  static std::mutex lock;
  static std::map<int, std::shared_ptr<const ComplexPlan>> cache;
  return cached(cache, lock, n, build_complex);
}

std::shared_ptr<const RealPlan> real_plan(int n) {
  static std::mutex lock;
  static std::map<int, std::shared_ptr<const RealPlan>> cache;
  return cached(cache, lock, n, build_real);
}

}  // namespace pianox
