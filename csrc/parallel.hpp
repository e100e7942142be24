// A small fork-join helper: split [0, n) into contiguous chunks over std::threads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace pianox {

// Number of worker threads to use when the caller passes 0 ("all cores").
inline int resolve_threads(int requested) {
  if (requested > 0) return requested;
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

// Calls fn(begin, end) on disjoint chunks covering [0, n), each at least `grain` items (so a
// thread's start-up is worth it). Runs inline when one thread suffices, so small inputs pay no
// thread start-up. The first exception is rethrown.
template <class Fn>
void parallel_for(std::size_t n, int threads, Fn &&fn, std::size_t grain = 1) {
  if (n == 0) return;
  const std::size_t by_grain = std::max<std::size_t>(1, n / std::max<std::size_t>(1, grain));
  std::size_t workers = std::min<std::size_t>(by_grain, static_cast<std::size_t>(resolve_threads(threads)));
  if (workers <= 1) {
    fn(std::size_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(workers);
  pool.reserve(workers - 1);
  std::size_t chunk = (n + workers - 1) / workers;
  for (std::size_t w = 1; w < workers; ++w) {
    std::size_t begin = w * chunk, end = std::min(n, begin + chunk);
    if (begin >= end) break;
    pool.emplace_back([&, w, begin, end] {
      try {
        fn(begin, end);
      } catch (...) {
        errors[w] = std::current_exception();
      }
    });
  }
  try {
    fn(std::size_t{0}, std::min(n, chunk));
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto &t : pool) t.join();
  for (auto &e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace pianox
