// The only translation unit that includes nanobind: argument checks, GIL release, ownership.
// Inputs are taken as any CPU array (numpy, torch via DLPack) without conversion; the wrong
// dtype, layout or device is a ValueError naming the argument, never a silent copy.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cmath>
#include <complex>
#include <optional>
#include <stdexcept>
#include <string>

#include "decode.hpp"
#include "framing.hpp"
#include "frontend.hpp"

namespace nb = nanobind;

using AnyArray = nb::ndarray<nb::ro>;

namespace {

template <class T>
nb::ndarray<nb::numpy, T> new_array(std::initializer_list<std::int64_t> shape_list, T **data) {
  std::vector<std::size_t> shape(shape_list.begin(), shape_list.end());
  std::size_t count = 1;
  for (std::size_t s : shape) count *= s;
  T *buffer = new T[count > 0 ? count : 1];
  nb::capsule owner(buffer, [](void *p) noexcept { delete[] static_cast<T *>(p); });
  *data = buffer;
  return nb::ndarray<nb::numpy, T>(buffer, shape.size(), shape.data(), owner);
}

std::string shape_of(const AnyArray &a) {
  std::string s = "(";
  for (std::size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// A C-contiguous CPU array of T with `ndim` dimensions, none of them empty.
template <class T>
const T *checked(const AnyArray &a, const char *what, std::size_t ndim, const char *dtype_name) {
  if (a.device_type() != nb::device::cpu::value)
    throw nb::value_error((std::string(what) + " must be a CPU array (got a device array); move it to the CPU first").c_str());
  if (a.dtype() != nb::dtype<T>())
    throw nb::value_error((std::string(what) + " must be " + dtype_name + "; convert it explicitly (no silent copy is made)").c_str());
  if (a.ndim() != ndim)
    throw nb::value_error((std::string(what) + " must have " + std::to_string(ndim) + " dimensions, got shape " + shape_of(a)).c_str());
  std::int64_t expected = 1;
  for (std::size_t i = ndim; i-- > 0;) {
    if (a.shape(i) == 0) throw nb::value_error((std::string(what) + " is empty (shape " + shape_of(a) + ")").c_str());
    if (a.shape(i) > 1 && a.stride(i) != expected)
      throw nb::value_error((std::string(what) + " must be C-contiguous; call .contiguous() / np.ascontiguousarray first").c_str());
    expected *= static_cast<std::int64_t>(a.shape(i));
  }
  return static_cast<const T *>(static_cast<const void *>(static_cast<const char *>(a.data_handle()) + a.byte_offset()));
}

nb::ndarray<nb::numpy, float> frontend(const AnyArray &wave, const pianox::FrontendConfig &config, int threads) {
  const float *data = checked<float>(wave, "waveform", 2, "float32");
  const std::int64_t batch = static_cast<std::int64_t>(wave.shape(0)), samples = static_cast<std::int64_t>(wave.shape(1));
  const pianox::FrontendShape shape = pianox::frontend_shape(config, batch, samples);
  float *out = nullptr;
  auto result = new_array<float>({shape.output[0], shape.output[1], shape.output[2]}, &out);
  {
    nb::gil_scoped_release release;
    pianox::run_frontend(config, data, batch, samples, out, threads);
  }
  return result;
}

nb::ndarray<nb::numpy, float> patchify(const AnyArray &spec, int patch, int fstride, int tstride, int threads) {
  const float *data = checked<float>(spec, "spectrogram", 3, "float32");
  if (patch < 1 || fstride < 1 || tstride < 1) throw nb::value_error("patch, fstride and tstride must be >= 1");
  const std::int64_t B = static_cast<std::int64_t>(spec.shape(0)), T = static_cast<std::int64_t>(spec.shape(1)),
                     F = static_cast<std::int64_t>(spec.shape(2));
  const std::int64_t nf = F >= patch ? (F - patch) / fstride + 1 : 0, nt = T >= patch ? (T - patch) / tstride + 1 : 0;
  float *out = nullptr;
  auto result = new_array<float>({B, nf * nt, std::int64_t{patch} * patch}, &out);
  {
    nb::gil_scoped_release release;
    pianox::patchify(data, B, T, F, patch, fstride, tstride, out, threads);
  }
  return result;
}

nb::ndarray<nb::numpy, std::complex<float>> rfft(const AnyArray &x, int threads) {
  const float *data = checked<float>(x, "x", 2, "float32");
  const std::int64_t rows = static_cast<std::int64_t>(x.shape(0)), n = static_cast<std::int64_t>(x.shape(1));
  if (n > (1 << 24)) throw nb::value_error("rfft size must be <= 2^24");
  std::complex<float> *out = nullptr;
  auto result = new_array<std::complex<float>>({rows, n / 2 + 1}, &out);
  {
    nb::gil_scoped_release release;
    pianox::rfft_rows(data, rows, static_cast<int>(n), reinterpret_cast<float *>(out), threads);
  }
  return result;
}

nb::ndarray<nb::numpy, std::complex<float>> fft(const AnyArray &x, int threads) {
  const std::complex<float> *data = checked<std::complex<float>>(x, "x", 2, "complex64");
  const std::int64_t rows = static_cast<std::int64_t>(x.shape(0)), n = static_cast<std::int64_t>(x.shape(1));
  if (n > (1 << 24)) throw nb::value_error("fft size must be <= 2^24");
  std::complex<float> *out = nullptr;
  auto result = new_array<std::complex<float>>({rows, n}, &out);
  {
    nb::gil_scoped_release release;
    pianox::fft_rows(reinterpret_cast<const float *>(data), rows, static_cast<int>(n), reinterpret_cast<float *>(out),
                     threads);
  }
  return result;
}

nb::ndarray<nb::numpy, float> frame(const AnyArray &wave, std::int64_t frame_length, std::int64_t frame_shift, bool snip_edges, int threads) {
  if (frame_length <= 0 || frame_shift <= 0) throw nb::value_error("frame_length and frame_shift must be positive");
  const float *data = checked<float>(wave, "waveform", 2, "float32");
  const std::int64_t batch = static_cast<std::int64_t>(wave.shape(0)), samples = static_cast<std::int64_t>(wave.shape(1));
  for (std::int64_t i = 0; i < batch * samples; ++i)
    if (!std::isfinite(data[i]))
      throw nb::value_error(("waveform contains NaN or inf at [" + std::to_string(i / samples) + ", " +
                             std::to_string(i % samples) + "]").c_str());
  const std::int64_t frames = pianox::num_frames(samples, frame_length, frame_shift, snip_edges);
  float *out = nullptr;
  auto result = new_array<float>({batch, frames, frame_length}, &out);
  {
    nb::gil_scoped_release release;
    pianox::frame_signal(data, batch, samples, frame_length, frame_shift, snip_edges, out, threads);
  }
  return result;
}

nb::ndarray<nb::numpy, float> filterbank(const pianox::FrontendConfig &config) {
  int n_mels = 0, n_bins = 0;
  const std::vector<float> dense = pianox::frontend_filterbank(config, &n_mels, &n_bins);
  float *out = nullptr;
  auto result = new_array<float>({n_mels, n_bins}, &out);
  std::copy(dense.begin(), dense.end(), out);
  return result;
}

nb::ndarray<nb::numpy, float> window(const pianox::FrontendConfig &config) {
  const std::vector<float> w = pianox::frontend_window(config);
  float *out = nullptr;
  auto result = new_array<float>({static_cast<std::int64_t>(w.size())}, &out);
  std::copy(w.begin(), w.end(), out);
  return result;
}

nb::tuple pick_peaks(const AnyArray &post, const AnyArray &thresholds, std::int64_t min_distance) {
  const float *p = checked<float>(post, "posteriors", 2, "float32");
  const float *thr = checked<float>(thresholds, "thresholds", 1, "float32");
  const std::int64_t T = static_cast<std::int64_t>(post.shape(0)), C = static_cast<std::int64_t>(post.shape(1));
  if (static_cast<std::int64_t>(thresholds.shape(0)) != C)
    throw nb::value_error(("thresholds must have one value per class (" + std::to_string(C) + ")").c_str());
  if (min_distance < 1) throw nb::value_error("min_distance must be >= 1");
  std::vector<pianox::Peak> peaks;
  {
    nb::gil_scoped_release release;
    peaks = pianox::pick_peaks(p, T, C, thr, min_distance);
  }
  const std::int64_t n = static_cast<std::int64_t>(peaks.size());
  std::int64_t *frames = nullptr, *classes = nullptr;
  float *values = nullptr;
  auto f = new_array<std::int64_t>({n}, &frames);
  auto c = new_array<std::int64_t>({n}, &classes);
  auto v = new_array<float>({n}, &values);
  for (std::int64_t i = 0; i < n; ++i) frames[i] = peaks[i].frame, classes[i] = peaks[i].cls, values[i] = peaks[i].value;
  return nb::make_tuple(f, c, v);
}

nb::ndarray<nb::numpy, double> frames_to_notes(const AnyArray &onsets, const AnyArray &frames,
                                               const std::optional<AnyArray> &offsets,
                                               const std::optional<AnyArray> &velocities, double frame_rate,
                                               float onset_threshold, float frame_threshold, float offset_threshold,
                                               std::int64_t min_frames, std::int64_t pitch_offset,
                                               double default_velocity) {
  const float *on = checked<float>(onsets, "onsets", 2, "float32");
  const std::int64_t T = static_cast<std::int64_t>(onsets.shape(0)), P = static_cast<std::int64_t>(onsets.shape(1));
  auto same_shape = [&](const AnyArray &a, const char *what) {
    const float *data = checked<float>(a, what, 2, "float32");
    if (static_cast<std::int64_t>(a.shape(0)) != T || static_cast<std::int64_t>(a.shape(1)) != P)
      throw nb::value_error((std::string(what) + " must have the shape of onsets " + shape_of(onsets)).c_str());
    return data;
  };
  const float *fr = same_shape(frames, "frames");
  const float *off = offsets ? same_shape(*offsets, "offsets") : nullptr;
  const float *vel = velocities ? same_shape(*velocities, "velocities") : nullptr;
  if (!(frame_rate > 0.0)) throw nb::value_error("frame_rate must be positive");
  std::vector<pianox::Note> notes;
  {
    nb::gil_scoped_release release;
    notes = pianox::frames_to_notes(on, fr, off, vel, T, P, frame_rate, onset_threshold, frame_threshold,
                                    offset_threshold, min_frames, pitch_offset, default_velocity);
  }
  double *out = nullptr;
  auto result = new_array<double>({static_cast<std::int64_t>(notes.size()), 4}, &out);
  for (std::size_t i = 0; i < notes.size(); ++i) {
    out[4 * i] = notes[i].onset;
    out[4 * i + 1] = notes[i].offset;
    out[4 * i + 2] = notes[i].pitch;
    out[4 * i + 3] = notes[i].velocity;
  }
  return result;
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "pianox compiled core: torch-free C++ front end (framing, FFT, mel, patchify)";
  // Configs are cached on the Python side (functools.lru_cache) and may outlive the module at
  // interpreter exit; that is expected, not a reference-counting bug.
  nb::set_leak_warnings(false);

  nb::class_<pianox::FrontendConfig> cfg(m, "FrontendConfig",
                                         "Every knob of the fused front end (see csrc/frontend.hpp); lengths in samples.");
  cfg.def(nb::init<>())
      .def_rw("win_length", &pianox::FrontendConfig::win_length)
      .def_rw("hop_length", &pianox::FrontendConfig::hop_length)
      .def_rw("n_fft", &pianox::FrontendConfig::n_fft)
      .def_rw("framing", &pianox::FrontendConfig::framing)
      .def_rw("pad_mode", &pianox::FrontendConfig::pad_mode)
      .def_rw("window", &pianox::FrontendConfig::window)
      .def_rw("periodic", &pianox::FrontendConfig::periodic)
      .def_rw("blackman_coeff", &pianox::FrontendConfig::blackman_coeff)
      .def_rw("dither", &pianox::FrontendConfig::dither)
      .def_rw("seed", &pianox::FrontendConfig::seed)
      .def_rw("remove_dc", &pianox::FrontendConfig::remove_dc)
      .def_rw("preemphasis", &pianox::FrontendConfig::preemphasis)
      .def_rw("power", &pianox::FrontendConfig::power)
      .def_rw("mel_scale", &pianox::FrontendConfig::mel_scale)
      .def_rw("n_mels", &pianox::FrontendConfig::n_mels)
      .def_rw("sample_rate", &pianox::FrontendConfig::sample_rate)
      .def_rw("fmin", &pianox::FrontendConfig::fmin)
      .def_rw("fmax", &pianox::FrontendConfig::fmax)
      .def_rw("mel_norm", &pianox::FrontendConfig::mel_norm)
      .def_rw("mel_norm_p", &pianox::FrontendConfig::mel_norm_p)
      .def_rw("log", &pianox::FrontendConfig::log)
      .def_rw("floor", &pianox::FrontendConfig::floor)
      .def_rw("ref", &pianox::FrontendConfig::ref)
      .def_rw("ref_max", &pianox::FrontendConfig::ref_max)
      .def_rw("top_db", &pianox::FrontendConfig::top_db)
      .def_rw("energy", &pianox::FrontendConfig::energy)
      .def_rw("raw_energy", &pianox::FrontendConfig::raw_energy)
      .def_rw("energy_floor", &pianox::FrontendConfig::energy_floor)
      .def_rw("subtract_mean", &pianox::FrontendConfig::subtract_mean)
      .def_rw("mean", &pianox::FrontendConfig::mean)
      .def_rw("std", &pianox::FrontendConfig::std)
      .def_rw("patch", &pianox::FrontendConfig::patch)
      .def_rw("fstride", &pianox::FrontendConfig::fstride)
      .def_rw("tstride", &pianox::FrontendConfig::tstride);

  m.def("frontend", &frontend, nb::arg("wave").noconvert(), nb::arg("config"), nb::arg("threads") = 0,
        "Fused front end on a float32 C-contiguous (B, S) CPU waveform -> float32 (B, T, F), or\n"
        "(B, N, patch**2) AST patches when config.patch > 0. GIL released; threads=0 uses every core.\n"
        "Raises ValueError for a bad config, wrong dtype/layout, empty or non-finite input.");
  m.def("frontend_shape", [](const pianox::FrontendConfig &c, std::int64_t batch, std::int64_t samples) {
        return pianox::frontend_shape(c, batch, samples).output;
      }, nb::arg("config"), nb::arg("batch"), nb::arg("samples"), "Output shape of frontend() for (batch, samples) input.");
  m.def("filterbank", &filterbank, nb::arg("config"), "Dense (n_mels, n_fft // 2 + 1) mel filterbank of a config.");
  m.def("window", &window, nb::arg("config"), "The analysis window (win_length,) of a config.");
  m.def("patchify", &patchify, nb::arg("spec").noconvert(), nb::arg("patch") = 16, nb::arg("fstride") = 16,
        nb::arg("tstride") = 16, nb::arg("threads") = 0,
        "(B, T, F) float32 -> (B, Nf * Nt, patch**2) in AST's Conv2d order (tokens frequency-major,\n"
        "each patch (freq, time)-major).");
  m.def("rfft", &rfft, nb::arg("x").noconvert(), nb::arg("threads") = 0,
        "Real FFT of each row of a float32 (B, N) array with pianox's own FFT -> complex64 (B, N // 2 + 1).");
  m.def("fft", &fft, nb::arg("x").noconvert(), nb::arg("threads") = 0,
        "Complex FFT of each row of a complex64 (B, N) array with pianox's own FFT -> complex64 (B, N).");
  m.def("isa", [] { return std::string(pianox::active_kernels().name); }, "Instruction set of the active kernels.");
  m.def("available_isas", &pianox::available_isas, "Instruction sets this CPU and build can run, best first.");
  m.def("set_isa", &pianox::set_isa, nb::arg("name"), "Force an instruction set ('' restores the automatic choice).");

  m.def("pick_peaks", &pick_peaks, nb::arg("posteriors").noconvert(), nb::arg("thresholds").noconvert(),
        nb::arg("min_distance") = 1,
        "Peaks of float32 (T, C) posteriors at or above per-class thresholds (C,), at least min_distance\n"
        "frames apart per class -> (frames int64, classes int64, values float32), sorted by frame then class\n"
        "(see pianox.decode.pick_peaks_reference, the spec).");
  m.def("frames_to_notes", &frames_to_notes, nb::arg("onsets").noconvert(), nb::arg("frames").noconvert(),
        nb::arg("offsets").noconvert().none(), nb::arg("velocities").noconvert().none(), nb::arg("frame_rate"),
        nb::arg("onset_threshold"), nb::arg("frame_threshold"), nb::arg("offset_threshold"), nb::arg("min_frames"),
        nb::arg("pitch_offset"), nb::arg("default_velocity"),
        "Onsets-and-Frames decoding of float32 (T, P) posteriors -> float64 (N, 4) notes [onset s, offset s,\n"
        "MIDI pitch, velocity] (see pianox.decode.frames_to_notes_reference, the spec).");

  m.def("num_frames", &pianox::num_frames, nb::arg("num_samples"), nb::arg("frame_length"), nb::arg("frame_shift"),
        nb::arg("snip_edges") = true,
        "Number of frames Kaldi produces for num_samples samples (snip_edges as in kaldi fbank).");
  m.def("frame", &frame, nb::arg("wave").noconvert(), nb::arg("frame_length"), nb::arg("frame_shift"),
        nb::arg("snip_edges") = true, nb::arg("threads") = 0,
        "Split float32 C-contiguous (B, S) waveforms into (B, T, frame_length) frames with Kaldi's\n"
        "conventions (snip_edges=False reflects the signal at both ends). Threads over B x T with\n"
        "the GIL released; threads=0 uses every core. Raises ValueError for NaN/inf or empty input.");
}
