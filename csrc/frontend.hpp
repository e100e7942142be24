// The fused front end: waveform -> frames -> (dither, DC removal, pre-emphasis, window) -> real
// FFT -> power -> mel -> log / dB -> normalisation -> (B, T, F) or AST patches, one pass per
// group of frames. Config mirrors the knobs of Kaldi fbank and librosa melspectrogram.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fft_plan.hpp"
#include "filterbank.hpp"

namespace pianox {

struct FrontendConfig {
  // Framing, in samples. framing: "kaldi_snip" (frames that fit, Kaldi snip_edges=True),
  // "kaldi_reflect" (Kaldi snip_edges=False), "center" (librosa center=True, padded by
  // n_fft // 2 with pad_mode), "valid" (librosa center=False).
  int win_length = 400;
  int hop_length = 160;
  int n_fft = 512;  // >= win_length; the windowed frame is zero-padded to it
  std::string framing = "kaldi_snip";
  std::string pad_mode = "constant";  // center only: constant, reflect, edge, symmetric
  // Per-frame conditioning.
  std::string window = "povey";
  bool periodic = false;
  double blackman_coeff = 0.42;
  double dither = 0.0;  // Gaussian dither std, from a counter-based generator seeded by `seed`
  std::uint64_t seed = 0;
  bool remove_dc = true;
  double preemphasis = 0.97;
  // Spectrum: |X|^power (2 = power, 1 = magnitude).
  double power = 2.0;
  // Mel filterbank: scale "kaldi", "htk" or "slaney"; norm "none", "slaney" or "p" (mel_norm_p).
  std::string mel_scale = "kaldi";
  int n_mels = 23;
  double sample_rate = 16000.0;
  double fmin = 20.0;
  double fmax = 8000.0;
  std::string mel_norm = "none";
  double mel_norm_p = 1.0;
  // Compression: "none", "log" (ln max(x, floor)) or "db" (10 log10 max(x, floor) - 10 log10
  // max(ref, floor), ref = the example's maximum when ref_max, then floored at max - top_db
  // per example when top_db >= 0).
  std::string log = "log";
  double floor = 1.1920928955078125e-07;
  double ref = 1.0;
  bool ref_max = false;
  double top_db = -1.0;
  // Kaldi log-energy column: "none", "first" or "last" (htk_compat).
  std::string energy = "none";
  bool raw_energy = true;
  double energy_floor = 1.0;
  // Normalisation: per-example column mean removal (Kaldi subtract_mean), then (x - mean) / std.
  bool subtract_mean = false;
  double mean = 0.0;
  double std = 1.0;
  // AST patches (patch > 0): (B, T, F) -> (B, Nf * Nt, patch * patch), tokens frequency-major,
  // each patch (freq, time)-major, as Conv2d(kernel patch, stride (fstride, tstride)) on (B, 1, F, T).
  int patch = 0;
  int fstride = 16;
  int tstride = 16;
};

enum class Framing { kaldi_snip, kaldi_reflect, center, valid };
enum class PadMode { constant, reflect, edge, symmetric };
enum class Compression { none, log, db };
enum class Energy { none, first, last };

// Everything the per-ISA kernel needs, as raw pointers into a cached plan and the call's buffers.
struct KernelArgs {
  // geometry
  const float *wave = nullptr;
  std::int64_t batch = 0, samples = 0, frames = 0;  // frames in the output (T)
  std::int64_t groups = 0;                           // lane groups per example to compute
  std::int64_t first_start = 0;                      // sample index of frame 0's first sample
  int hop = 0, win = 0;
  PadMode pad = PadMode::constant;
  // conditioning
  float dither = 0.0f;
  std::uint64_t seed = 0;
  bool remove_dc = false;
  float preemphasis = 0.0f;
  const float *window = nullptr;
  const RealPlan *fft = nullptr;
  // spectrum and mel
  double power = 2.0;
  int n_mels = 0;
  const int *mel_start = nullptr, *mel_end = nullptr, *mel_offset = nullptr;
  const float *mel_weights = nullptr;
  // compression: y = scale_log * log(max(x, floor)) + offset_log
  Compression compression = Compression::none;
  float floor = 0.0f, log_scale = 1.0f, log_offset = 0.0f;
  Energy energy = Energy::none;
  bool raw_energy = true;
  float log_energy_floor = 0.0f;  // -inf when disabled
  // affine normalisation applied before writing: y = (y - shift) * scale
  float shift = 0.0f, scale = 1.0f;
  // output
  int features = 0;  // F
  float *out = nullptr;
  bool patches = false;
  int patch = 0, fstride = 0, tstride = 0;
  std::int64_t time_patches = 0, freq_patches = 0;
  // non-finite input: the smallest flat index (b * samples + i) seen, or -1
  std::int64_t *bad_index = nullptr;
};

// One instruction set's kernels (lanes = frames or rows processed side by side).
struct Kernels {
  const char *name;
  int lanes;
  // Rows [begin, end) of `rows` real rows of n samples -> (n/2 + 1) interleaved complex bins;
  // scratch: (n + plan.scratch_vectors()) * lanes floats, 64-byte aligned.
  void (*rfft_rows)(const RealPlan &plan, const float *in, float *out, std::int64_t begin, std::int64_t end,
                    std::int64_t rows, float *scratch);
  // Rows [begin, end) of interleaved complex rows of n points -> their DFTs (interleaved);
  // scratch: (2 n + plan.scratch_vectors()) * lanes floats.
  void (*fft_rows)(const ComplexPlan &plan, const float *in, float *out, std::int64_t begin, std::int64_t end,
                   std::int64_t rows, float *scratch);
  // Work items [begin, end) of batch * groups (lane groups of frames); scratch:
  // frontend_scratch_vectors(args) * lanes floats.
  void (*frontend_items)(const KernelArgs &args, std::int64_t begin, std::int64_t end, float *scratch);
};

// The kernels this CPU runs best, or those named by set_isa / PIANOX_CORE_ISA.
const Kernels &active_kernels();
std::vector<std::string> available_isas();
void set_isa(const std::string &name);  // "" restores automatic choice; throws if unavailable

// Lane vectors of scratch one worker needs for frontend_items.
std::size_t frontend_scratch_vectors(const KernelArgs &args);

struct FrontendShape {
  std::int64_t frames = 0;    // T
  std::int64_t features = 0;  // F
  std::int64_t patches = 0;   // Nf * Nt (patch > 0)
  std::vector<std::int64_t> output;  // (B, T, F) or (B, N, patch^2)
};

// Validates `config` and returns the output shape for `batch` waveforms of `samples` samples.
FrontendShape frontend_shape(const FrontendConfig &config, std::int64_t batch, std::int64_t samples);

// Runs the front end on a C-contiguous (batch, samples) float32 buffer into `out` (sized as
// frontend_shape says). threads <= 0: all cores. Throws std::invalid_argument on bad config or
// non-finite input (naming the example and sample).
void run_frontend(const FrontendConfig &config, const float *wave, std::int64_t batch, std::int64_t samples,
                  float *out, int threads);

// The (dense) mel filterbank and window a config uses, for inspection and tests.
std::vector<float> frontend_filterbank(const FrontendConfig &config, int *n_mels, int *n_bins);
std::vector<float> frontend_window(const FrontendConfig &config);

// (B, T, F) -> (B, Nf * Nt, patch^2) in AST's Conv2d order; threads over B x tokens.
void patchify(const float *in, std::int64_t batch, std::int64_t frames, std::int64_t features, int patch,
              int fstride, int tstride, float *out, int threads);

// rfft / fft of C-contiguous rows with this library's FFT (for tests against numpy.fft).
void rfft_rows(const float *in, std::int64_t rows, int n, float *out, int threads);
void fft_rows(const float *in, std::int64_t rows, int n, float *out, int threads);

}  // namespace pianox
