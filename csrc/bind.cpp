// The only translation unit that includes nanobind: argument checks, GIL release, ownership.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "framing.hpp"

namespace nb = nanobind;

using Wave2D = nb::ndarray<const float, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using Frames3D = nb::ndarray<nb::numpy, float, nb::ndim<3>>;

namespace {

void require_finite(const float *data, std::size_t n, const char *what) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(data[i]))
      throw nb::value_error((std::string(what) + " contains NaN or inf at flat index " + std::to_string(i)).c_str());
}

Frames3D frame(Wave2D wave, std::int64_t frame_length, std::int64_t frame_shift, bool snip_edges, int threads) {
  if (frame_length <= 0 || frame_shift <= 0) throw nb::value_error("frame_length and frame_shift must be positive");
  const std::int64_t batch = static_cast<std::int64_t>(wave.shape(0));
  const std::int64_t samples = static_cast<std::int64_t>(wave.shape(1));
  if (samples == 0) throw nb::value_error("waveform is empty (0 samples)");
  require_finite(wave.data(), wave.size(), "waveform");
  const std::int64_t frames = pianox::num_frames(samples, frame_length, frame_shift, snip_edges);
  float *out = new float[static_cast<std::size_t>(batch * frames * frame_length)];
  nb::capsule owner(out, [](void *p) noexcept { delete[] static_cast<float *>(p); });
  {
    nb::gil_scoped_release release;
    pianox::frame_signal(wave.data(), batch, samples, frame_length, frame_shift, snip_edges, out, threads);
  }
  return Frames3D(out, {static_cast<std::size_t>(batch), static_cast<std::size_t>(frames),
                        static_cast<std::size_t>(frame_length)},
                  owner);
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "pianox compiled core: torch-free C++ front end (framing, FFT, mel, patchify)";
  m.def("num_frames", &pianox::num_frames, nb::arg("num_samples"), nb::arg("frame_length"), nb::arg("frame_shift"),
        nb::arg("snip_edges") = true,
        "Number of frames Kaldi produces for num_samples samples (snip_edges as in kaldi fbank).");
  m.def("frame", &frame, nb::arg("wave").noconvert(), nb::arg("frame_length"), nb::arg("frame_shift"),
        nb::arg("snip_edges") = true, nb::arg("threads") = 0,
        "Split float32 C-contiguous (B, S) waveforms into (B, T, frame_length) frames with Kaldi's\n"
        "conventions (snip_edges=False reflects the signal at both ends). Threads over B x T with\n"
        "the GIL released; threads=0 uses every core. Raises ValueError for NaN/inf or empty input.");
}
