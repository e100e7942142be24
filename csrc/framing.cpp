#include "framing.hpp"

#include <algorithm>
#include <cstring>

#include "parallel.hpp"

namespace pianox {

std::int64_t num_frames(std::int64_t num_samples, std::int64_t frame_length, std::int64_t frame_shift,
                        bool snip_edges) {
  if (snip_edges) {
    if (num_samples < frame_length) return 0;
    return 1 + (num_samples - frame_length) / frame_shift;
  }
  return (num_samples + frame_shift / 2) / frame_shift;
}

void frame_signal(const float *wave, std::int64_t batch, std::int64_t num_samples, std::int64_t frame_length,
                  std::int64_t frame_shift, bool snip_edges, float *out, int threads) {
  const std::int64_t frames = num_frames(num_samples, frame_length, frame_shift, snip_edges);
  // Kaldi centres frame k on k*shift + shift/2, so it starts half a frame before that.
  const std::int64_t offset = snip_edges ? 0 : frame_shift / 2 - frame_length / 2;
  const std::size_t total = static_cast<std::size_t>(batch * frames);
  parallel_for(total, threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t idx = begin; idx < end; ++idx) {
      const std::int64_t b = static_cast<std::int64_t>(idx) / frames;
      const std::int64_t t = static_cast<std::int64_t>(idx) % frames;
      const float *src = wave + b * num_samples;
      float *dst = out + static_cast<std::int64_t>(idx) * frame_length;
      const std::int64_t start = t * frame_shift + offset;
      if (start >= 0 && start + frame_length <= num_samples) {
        std::memcpy(dst, src + start, sizeof(float) * static_cast<std::size_t>(frame_length));
      } else {
        for (std::int64_t i = 0; i < frame_length; ++i) dst[i] = src[reflect_index(start + i, num_samples)];
      }
    }
  });
}

}  // namespace pianox
