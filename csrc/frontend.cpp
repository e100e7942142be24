#include "frontend.hpp"

#include <cfloat>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>

#include "framing.hpp"
#include "parallel.hpp"

namespace pianox {

namespace {

// A validated config with everything derived from it: window, FFT plan, mel filterbank.
struct FrontendPlan {
  FrontendConfig config;
  Framing framing = Framing::kaldi_snip;
  PadMode pad = PadMode::constant;
  Compression compression = Compression::log;
  Energy energy = Energy::none;
  std::vector<float> window;
  std::shared_ptr<const RealPlan> fft;
  SparseFilterbank mel;
  int features = 0;
  // Statistics over a whole example (subtract_mean, dB against the maximum, top_db) need every
  // frame first: then the kernel writes raw (B, T, F) values and a second pass finishes them.
  bool needs_post = false;
};

template <class T>
T pick(const std::string &value, const char *key, std::initializer_list<std::pair<const char *, T>> options) {
  std::string names;
  for (const auto &o : options) {
    if (value == o.first) return o.second;
    names += (names.empty() ? "" : ", ") + std::string(o.first);
  }
  throw std::invalid_argument(std::string(key) + "='" + value + "' is not one of " + names);
}

void require(bool ok, const std::string &message) {
  if (!ok) throw std::invalid_argument(message);
}

std::shared_ptr<FrontendPlan> build_plan(const FrontendConfig &c) {
  auto p = std::make_shared<FrontendPlan>();
  p->config = c;
  p->framing = pick<Framing>(c.framing, "framing", {{"kaldi_snip", Framing::kaldi_snip}, {"kaldi_reflect", Framing::kaldi_reflect},
                                                    {"center", Framing::center}, {"valid", Framing::valid}});
  p->pad = p->framing == Framing::kaldi_reflect
               ? PadMode::symmetric
               : pick<PadMode>(c.pad_mode, "pad_mode", {{"constant", PadMode::constant}, {"reflect", PadMode::reflect},
                                                        {"edge", PadMode::edge}, {"symmetric", PadMode::symmetric}});
  p->compression = pick<Compression>(c.log, "log", {{"none", Compression::none}, {"log", Compression::log}, {"db", Compression::db}});
  p->energy = pick<Energy>(c.energy, "energy", {{"none", Energy::none}, {"first", Energy::first}, {"last", Energy::last}});
  const MelScale scale = pick<MelScale>(c.mel_scale, "mel_scale", {{"kaldi", MelScale::kaldi}, {"htk", MelScale::htk}, {"slaney", MelScale::slaney}});
  const MelNorm norm = pick<MelNorm>(c.mel_norm, "mel_norm", {{"none", MelNorm::none}, {"slaney", MelNorm::slaney}, {"p", MelNorm::p_norm}});

  require(c.win_length >= 1, "win_length must be >= 1 sample, got " + std::to_string(c.win_length));
  require(c.hop_length >= 1, "hop_length must be >= 1 sample, got " + std::to_string(c.hop_length));
  require(c.n_fft >= c.win_length, "n_fft (" + std::to_string(c.n_fft) + ") must be >= win_length (" + std::to_string(c.win_length) + ")");
  require(c.n_fft <= (1 << 24), "n_fft must be <= 2^24, got " + std::to_string(c.n_fft));
  require(std::isfinite(c.preemphasis) && std::isfinite(c.blackman_coeff), "preemphasis and blackman_coeff must be finite");
  require(std::isfinite(c.dither) && c.dither >= 0.0, "dither must be >= 0");
  require(std::isfinite(c.power) && c.power > 0.0, "power must be > 0, got " + std::to_string(c.power));
  require(p->compression == Compression::none || (c.floor >= FLT_MIN && std::isfinite(c.floor)),
          "the log floor (eps / amin) must be a normal positive float32, got " + std::to_string(c.floor));
  require(!(p->compression == Compression::db && p->energy != Energy::none), "a log-energy column cannot be combined with dB output");
  require(std::isfinite(c.ref) && c.ref > 0.0, "ref must be > 0");
  require(std::isfinite(c.mean) && std::isfinite(c.std) && c.std != 0.0, "normalisation needs a finite mean and a finite non-zero std");
  require(c.energy_floor >= 0.0, "energy_floor must be >= 0");
  require(c.patch >= 0 && (c.patch == 0 || (c.fstride >= 1 && c.tstride >= 1)), "patch must be >= 0 and strides >= 1");

  p->window = make_window(parse_window(c.window), c.win_length, c.periodic, c.blackman_coeff);
  p->fft = real_plan(c.n_fft);
  MelSpec spec;
  spec.scale = scale;
  spec.n_mels = c.n_mels;
  spec.n_fft = c.n_fft;
  spec.sample_rate = c.sample_rate;
  spec.fmin = c.fmin;
  spec.fmax = c.fmax;
  spec.norm = norm;
  spec.norm_p = c.mel_norm_p;
  p->mel = make_filterbank(spec);
  p->features = c.n_mels + (p->energy != Energy::none ? 1 : 0);
  p->needs_post = c.subtract_mean || (p->compression == Compression::db && (c.ref_max || c.top_db >= 0.0));
  return p;
}

template <class T>
void put(std::string &key, const T &value) {
  key.append(reinterpret_cast<const char *>(&value), sizeof(T));
}

void put(std::string &key, const std::string &value) {
  put(key, value.size());
  key += value;
}

std::shared_ptr<const FrontendPlan> plan_for(const FrontendConfig &c) {
  std::string key;
  put(key, c.win_length), put(key, c.hop_length), put(key, c.n_fft), put(key, c.framing), put(key, c.pad_mode);
  put(key, c.window), put(key, c.periodic), put(key, c.blackman_coeff), put(key, c.dither), put(key, c.seed);
  put(key, c.remove_dc), put(key, c.preemphasis), put(key, c.power), put(key, c.mel_scale), put(key, c.n_mels);
  put(key, c.sample_rate), put(key, c.fmin), put(key, c.fmax), put(key, c.mel_norm), put(key, c.mel_norm_p);
  put(key, c.log), put(key, c.floor), put(key, c.ref), put(key, c.ref_max), put(key, c.top_db), put(key, c.energy);
  put(key, c.raw_energy), put(key, c.energy_floor), put(key, c.subtract_mean), put(key, c.mean), put(key, c.std);
  put(key, c.patch), put(key, c.fstride), put(key, c.tstride);
  static std::mutex lock;
  static std::map<std::string, std::shared_ptr<const FrontendPlan>> cache;
  {
    std::lock_guard<std::mutex> guard(lock);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  std::shared_ptr<const FrontendPlan> plan = build_plan(c);
  std::lock_guard<std::mutex> guard(lock);
  if (cache.size() >= 64) cache.clear();  // configurations are few; bound memory for sweeps
  return cache.emplace(key, plan).first->second;
}

struct Geometry {
  std::int64_t frames = 0, first_start = 0;
};

Geometry geometry(const FrontendPlan &p, std::int64_t samples) {
  const std::int64_t win = p.config.win_length, hop = p.config.hop_length, n_fft = p.config.n_fft;
  switch (p.framing) {
    case Framing::kaldi_snip: return {num_frames(samples, win, hop, true), 0};
    case Framing::kaldi_reflect: return {num_frames(samples, win, hop, false), hop / 2 - win / 2};
    case Framing::center: {
      const std::int64_t padded = samples + 2 * (n_fft / 2);
      return {padded >= n_fft ? 1 + (padded - n_fft) / hop : 0, -(n_fft / 2) + (n_fft - win) / 2};
    }
    case Framing::valid: return {samples >= n_fft ? 1 + (samples - n_fft) / hop : 0, (n_fft - win) / 2};
  }
  return {};
}

std::int64_t patch_count(std::int64_t length, int patch, int stride) {
  return length >= patch ? (length - patch) / stride + 1 : 0;
}

struct AlignedFree {
  void operator()(float *p) const { ::operator delete[](p, std::align_val_t(64)); }
};
using Scratch = std::unique_ptr<float[], AlignedFree>;

Scratch scratch_floats(std::size_t vectors, int lanes) {
  const std::size_t floats = vectors * static_cast<std::size_t>(lanes) + 16;
  return Scratch(static_cast<float *>(::operator new[](floats * sizeof(float), std::align_val_t(64))));
}

// Example-level statistics on raw (B, T, F) values, then the affine normalisation.
void post_process(const FrontendPlan &p, float *x, std::int64_t batch, std::int64_t frames, int threads) {
  const FrontendConfig &c = p.config;
  const std::int64_t F = p.features, n = frames * F;
  const bool db = p.compression == Compression::db;
  const float shift = static_cast<float>(c.mean), scale = static_cast<float>(1.0 / c.std);
  parallel_for(static_cast<std::size_t>(batch), threads, [&](std::size_t b0, std::size_t b1) {
    std::vector<double> column(static_cast<std::size_t>(F));
    for (std::size_t b = b0; b < b1; ++b) {
      float *e = x + static_cast<std::int64_t>(b) * n;
      if (db && c.ref_max && n > 0) {  // librosa ref=np.max: 10 log10 of the example's peak
        float peak = e[0];
        for (std::int64_t i = 1; i < n; ++i) peak = e[i] > peak ? e[i] : peak;
        for (std::int64_t i = 0; i < n; ++i) e[i] -= peak;
      }
      if (db && c.top_db >= 0.0 && n > 0) {
        float peak = e[0];
        for (std::int64_t i = 1; i < n; ++i) peak = e[i] > peak ? e[i] : peak;
        const float lowest = peak - static_cast<float>(c.top_db);
        for (std::int64_t i = 0; i < n; ++i) e[i] = e[i] < lowest ? lowest : e[i];
      }
      if (c.subtract_mean && frames > 0) {
        std::fill(column.begin(), column.end(), 0.0);
        for (std::int64_t t = 0; t < frames; ++t)
          for (std::int64_t f = 0; f < F; ++f) column[static_cast<std::size_t>(f)] += e[t * F + f];
        for (std::int64_t t = 0; t < frames; ++t)
          for (std::int64_t f = 0; f < F; ++f) e[t * F + f] -= static_cast<float>(column[static_cast<std::size_t>(f)] / frames);
      }
      if (shift != 0.0f || scale != 1.0f)
        for (std::int64_t i = 0; i < n; ++i) e[i] = (e[i] - shift) * scale;
    }
  });
}

}  // namespace

std::size_t frontend_scratch_vectors(const KernelArgs &a) {
  return static_cast<std::size_t>(a.fft->n) + a.fft->scratch_vectors() + static_cast<std::size_t>(a.fft->bins()) +
         static_cast<std::size_t>(a.features);
}

FrontendShape frontend_shape(const FrontendConfig &config, std::int64_t batch, std::int64_t samples) {
  const auto plan = plan_for(config);
  FrontendShape s;
  s.frames = geometry(*plan, samples).frames;
  s.features = plan->features;
  if (config.patch > 0) {
    s.patches = patch_count(s.features, config.patch, config.fstride) * patch_count(s.frames, config.patch, config.tstride);
    s.output = {batch, s.patches, std::int64_t{config.patch} * config.patch};
  } else {
    s.output = {batch, s.frames, s.features};
  }
  return s;
}

void run_frontend(const FrontendConfig &config, const float *wave, std::int64_t batch, std::int64_t samples, float *out,
                  int threads) {
  const auto plan = plan_for(config);
  const FrontendConfig &c = plan->config;
  const Kernels &kernels = active_kernels();
  const Geometry geo = geometry(*plan, samples);
  const std::int64_t T = geo.frames;
  const bool patches = c.patch > 0;
  const std::int64_t Nf = patches ? patch_count(plan->features, c.patch, c.fstride) : 0;
  const std::int64_t Nt = patches ? patch_count(T, c.patch, c.tstride) : 0;

  KernelArgs a;
  a.wave = wave;
  a.batch = batch;
  a.samples = samples;
  a.frames = T;
  a.first_start = geo.first_start;
  a.hop = c.hop_length;
  a.win = c.win_length;
  a.pad = plan->pad;
  a.dither = static_cast<float>(c.dither);
  a.seed = c.seed;
  a.remove_dc = c.remove_dc;
  a.preemphasis = static_cast<float>(c.preemphasis);
  a.window = plan->window.data();
  a.fft = plan->fft.get();
  a.power = c.power;
  a.n_mels = plan->mel.n_mels;
  a.mel_start = plan->mel.start.data();
  a.mel_end = plan->mel.end.data();
  a.mel_offset = plan->mel.offset.data();
  a.mel_weights = plan->mel.weights.data();
  a.compression = plan->compression;
  a.floor = static_cast<float>(c.floor);
  if (plan->compression == Compression::db) {
    a.log_scale = static_cast<float>(10.0 / std::log(10.0));
    a.log_offset = c.ref_max ? 0.0f : static_cast<float>(-10.0 * std::log10(std::max(c.ref, c.floor)));
  }
  a.energy = plan->energy;
  a.raw_energy = c.raw_energy;
  a.log_energy_floor = c.energy_floor > 0.0 ? static_cast<float>(std::log(c.energy_floor)) : -INFINITY;
  a.features = plan->features;

  // The kernel writes final values straight into `out` unless example statistics are needed.
  std::vector<float> raw;
  if (plan->needs_post) {
    if (patches) raw.resize(static_cast<std::size_t>(batch * T * plan->features));
    a.out = patches ? raw.data() : out;
  } else {
    a.shift = static_cast<float>(c.mean);
    a.scale = static_cast<float>(1.0 / c.std);
    a.out = out;
    a.patches = patches;
    a.patch = c.patch;
    a.fstride = c.fstride;
    a.tstride = c.tstride;
    a.freq_patches = Nf;
    a.time_patches = Nt;
  }
  // Frames no patch reads are skipped.
  const std::int64_t computed = a.patches ? (Nt > 0 && Nf > 0 ? (Nt - 1) * c.tstride + c.patch : 0) : T;
  a.groups = (computed + kernels.lanes - 1) / kernels.lanes;
  std::int64_t bad = -1;
  a.bad_index = &bad;

  if (a.groups == 0) {  // nothing to compute, but the input is still checked
    for (std::int64_t i = 0; i < batch * samples && bad < 0; ++i)
      if (!std::isfinite(wave[i])) bad = i;
  } else {
    const std::size_t vectors = frontend_scratch_vectors(a);
    // Starting and waking a second thread costs ~100 us on a busy 2-core machine (measured:
    // 10 s of audio took 222 us inline and 338 us on 2 threads), so each thread gets at least
    // ~768 frames (~170 us of work) and shorter inputs run inline.
    const std::size_t grain = static_cast<std::size_t>(std::max<std::int64_t>(4, 768 / kernels.lanes));
    parallel_for(
        static_cast<std::size_t>(batch * a.groups), threads,
        [&](std::size_t begin, std::size_t end) {
          Scratch scratch = scratch_floats(vectors, kernels.lanes);
          kernels.frontend_items(a, static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end), scratch.get());
        },
        grain);
  }
  if (bad >= 0) {
    const float v = wave[bad];
    throw std::invalid_argument("waveform contains " + std::string(std::isnan(v) ? "NaN" : "inf") + " at [" +
                                std::to_string(bad / samples) + ", " + std::to_string(bad % samples) + "]");
  }
  if (plan->needs_post) {
    post_process(*plan, a.out, batch, T, threads);
    if (patches) patchify(raw.data(), batch, T, plan->features, c.patch, c.fstride, c.tstride, out, threads);
  }
}

std::vector<float> frontend_filterbank(const FrontendConfig &config, int *n_mels, int *n_bins) {
  const auto plan = plan_for(config);
  *n_mels = plan->mel.n_mels;
  *n_bins = plan->mel.n_bins;
  return plan->mel.dense();
}

std::vector<float> frontend_window(const FrontendConfig &config) { return plan_for(config)->window; }

void patchify(const float *in, std::int64_t batch, std::int64_t frames, std::int64_t features, int patch, int fstride,
              int tstride, float *out, int threads) {
  const std::int64_t Nf = patch_count(features, patch, fstride), Nt = patch_count(frames, patch, tstride);
  const std::int64_t tokens = Nf * Nt, P = patch;
  parallel_for(static_cast<std::size_t>(batch * tokens), threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t idx = begin; idx < end; ++idx) {
      const std::int64_t b = static_cast<std::int64_t>(idx) / tokens, token = static_cast<std::int64_t>(idx) % tokens;
      const std::int64_t f0 = token / Nt * fstride, t0 = token % Nt * tstride;
      const float *src = in + (b * frames + t0) * features + f0;
      float *dst = out + static_cast<std::int64_t>(idx) * P * P;
      for (std::int64_t kh = 0; kh < P; ++kh)
        for (std::int64_t kw = 0; kw < P; ++kw) dst[kh * P + kw] = src[kw * features + kh];
    }
  });
}

void rfft_rows(const float *in, std::int64_t rows, int n, float *out, int threads) {
  const auto plan = real_plan(n);
  const Kernels &kernels = active_kernels();
  parallel_for(static_cast<std::size_t>(rows), threads, [&](std::size_t begin, std::size_t end) {
    Scratch scratch = scratch_floats(static_cast<std::size_t>(n) + plan->scratch_vectors(), kernels.lanes);
    kernels.rfft_rows(*plan, in, out, static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end), rows, scratch.get());
  });
}

void fft_rows(const float *in, std::int64_t rows, int n, float *out, int threads) {
  const auto plan = complex_plan(n);
  const Kernels &kernels = active_kernels();
  parallel_for(static_cast<std::size_t>(rows), threads, [&](std::size_t begin, std::size_t end) {
    Scratch scratch = scratch_floats(2 * static_cast<std::size_t>(n) + plan->scratch_vectors(), kernels.lanes);
    kernels.fft_rows(*plan, in, out, static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end), rows, scratch.get());
  });
}

}  // namespace pianox
