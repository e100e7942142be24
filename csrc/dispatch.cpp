// Picks the kernels for this CPU once: AVX-512 > AVX2+FMA > generic, unless PIANOX_CORE_ISA or
// set_isa() names one (tests use that to run every available instruction set).
#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "frontend.hpp"

namespace pianox {

extern const Kernels kernels_generic;
#if defined(PIANOX_HAVE_AVX2)
extern const Kernels kernels_avx2;
#endif
#if defined(PIANOX_HAVE_AVX512)
extern const Kernels kernels_avx512;
#endif

namespace {

// Best first.
std::vector<const Kernels *> supported() {
  std::vector<const Kernels *> out;
#if defined(PIANOX_HAVE_AVX512)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("fma"))
    out.push_back(&kernels_avx512);
#endif
#if defined(PIANOX_HAVE_AVX2)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) out.push_back(&kernels_avx2);
#endif
  out.push_back(&kernels_generic);
  return out;
}

const Kernels *find(const std::string &name) {
  for (const Kernels *k : supported())
    if (name == k->name) return k;
  std::string names;
  for (const std::string &n : available_isas()) names += (names.empty() ? "" : ", ") + n;
  throw std::invalid_argument("instruction set '" + name + "' is not available on this CPU/build; available: " + names);
}

const Kernels *automatic() {
  const char *env = std::getenv("PIANOX_CORE_ISA");
  if (env != nullptr && *env != '\0') return find(env);
  return supported().front();
}

std::atomic<const Kernels *> &active() {
  static std::atomic<const Kernels *> chosen{automatic()};
  return chosen;
}

}  // namespace

const Kernels &active_kernels() { return *active().load(std::memory_order_acquire); }

std::vector<std::string> available_isas() {
  std::vector<std::string> names;
  for (const Kernels *k : supported()) names.emplace_back(k->name);
  return names;
}

void set_isa(const std::string &name) { active().store(name.empty() ? automatic() : find(name), std::memory_order_release); }

}  // namespace pianox
