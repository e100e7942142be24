// Framing of a batch of waveforms into overlapping windows, Kaldi conventions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pianox {

// Number of frames Kaldi produces for `num_samples` samples.
// snip_edges=true: only frames that fit entirely; false: frames centred on k*shift + shift/2,
// the signal reflected (edge sample repeated) at both ends.
std::int64_t num_frames(std::int64_t num_samples, std::int64_t frame_length, std::int64_t frame_shift,
                        bool snip_edges);

// Sample index into a signal of `n` samples for virtual position `pos`, reflecting the signal
// about its ends with the edge sample repeated (Kaldi's snip_edges=false padding).
inline std::int64_t reflect_index(std::int64_t pos, std::int64_t n) {
  while (pos < 0 || pos >= n) {
    if (pos < 0) pos = -pos - 1;
    if (pos >= n) pos = 2 * n - 1 - pos;
  }
  return pos;
}

// Copies frames of `wave` (batch x num_samples, row-major) into `out`
// (batch x frames x frame_length). Threads over batch x frames.
void frame_signal(const float *wave, std::int64_t batch, std::int64_t num_samples, std::int64_t frame_length,
                  std::int64_t frame_shift, bool snip_edges, float *out, int threads);

}  // namespace pianox
