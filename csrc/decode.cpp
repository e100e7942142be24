#include "decode.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace pianox {

std::vector<Peak> pick_peaks(const float *post, std::int64_t T, std::int64_t C, const float *thresholds,
                             std::int64_t min_distance) {
  std::vector<Peak> out;
  std::vector<std::int64_t> cand, kept;
  for (std::int64_t c = 0; c < C; ++c) {
    cand.clear();
    for (std::int64_t t = 0; t < T; ++t) {
      const float x = post[t * C + c];
      if (x < thresholds[c]) continue;
      const bool above_left = t == 0 || x > post[(t - 1) * C + c];
      const bool not_below_right = t == T - 1 || x >= post[(t + 1) * C + c];
      if (above_left && not_below_right) cand.push_back(t);
    }
    if (min_distance > 1 && cand.size() > 1) {
      // Highest first (ties: earlier first); keep a peak when no kept one is too close.
      std::vector<std::int64_t> order(cand);
      std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
        return post[a * C + c] > post[b * C + c];
      });
      kept.clear();
      for (std::int64_t t : order) {
        bool ok = true;
        for (std::int64_t k : kept)
          if (std::llabs(t - k) < min_distance) {
            ok = false;
            break;
          }
        if (ok) kept.push_back(t);
      }
      std::sort(kept.begin(), kept.end());
      cand.swap(kept);
    }
    for (std::int64_t t : cand) out.push_back({t, c, post[t * C + c]});
  }
  std::sort(out.begin(), out.end(), [](const Peak &a, const Peak &b) {
    return a.frame != b.frame ? a.frame < b.frame : a.cls < b.cls;
  });
  return out;
}

std::vector<Note> frames_to_notes(const float *onsets, const float *frames, const float *offsets,
                                  const float *velocities, std::int64_t T, std::int64_t P, double frame_rate,
                                  float onset_threshold, float frame_threshold, float offset_threshold,
                                  std::int64_t min_frames, std::int64_t pitch_offset, double default_velocity) {
  std::vector<Note> notes;
  for (std::int64_t p = 0; p < P; ++p) {
    std::int64_t start = -1;
    for (std::int64_t t = 0; t <= T; ++t) {
      const bool inside = t < T;
      const float on = inside ? onsets[t * P + p] : 0.0f;
      const bool onset_here = inside && on >= onset_threshold && (t == 0 || onsets[(t - 1) * P + p] < onset_threshold);
      if (start >= 0) {
        const bool sustained = inside && (frames[t * P + p] >= frame_threshold || on >= onset_threshold);
        const bool offset_here = offsets != nullptr && inside && offsets[t * P + p] >= offset_threshold;
        if (!sustained || onset_here || offset_here) {
          if (t - start >= min_frames) {
            double v = default_velocity;
            if (velocities != nullptr) v = std::clamp(static_cast<double>(velocities[start * P + p]) * 127.0, 0.0, 127.0);
            notes.push_back({start / frame_rate, t / frame_rate, static_cast<double>(p + pitch_offset), v});
          }
          start = -1;
        }
      }
      if (onset_here) start = t;
    }
  }
  std::stable_sort(notes.begin(), notes.end(), [](const Note &a, const Note &b) {
    return a.onset != b.onset ? a.onset < b.onset : a.pitch < b.pitch;
  });
  return notes;
}

}  // namespace pianox
