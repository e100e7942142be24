// Decoding frame posteriors into events: peak picking (drum hits) and note assembly (piano).
// The numpy functions in pianox/decode.py are the spec these follow exactly.
#pragma once

#include <cstdint>
#include <vector>

namespace pianox {

struct Peak {
  std::int64_t frame;
  std::int64_t cls;
  float value;
};

// Local maxima of each column of `post` (T x C, row-major) at or above thresholds[c]: >= both
// neighbours and > the left one (plateaus count once, at their first frame). Peaks of a class
// closer than min_distance frames are suppressed, the higher kept (ties: the earlier).
// Sorted by frame, then class.
std::vector<Peak> pick_peaks(const float *post, std::int64_t T, std::int64_t C, const float *thresholds,
                             std::int64_t min_distance);

struct Note {
  double onset, offset, pitch, velocity;
};

// Onsets-and-Frames decoding of T x P posteriors (row-major); offsets/velocities may be null.
// Sorted by onset, then pitch.
std::vector<Note> frames_to_notes(const float *onsets, const float *frames, const float *offsets,
                                  const float *velocities, std::int64_t T, std::int64_t P, double frame_rate,
                                  float onset_threshold, float frame_threshold, float offset_threshold,
                                  std::int64_t min_frames, std::int64_t pitch_offset, double default_velocity);

}  // namespace pianox
