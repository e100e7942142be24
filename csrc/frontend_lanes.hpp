// The fused per-frame pipeline over lane vectors (one frame per lane), for one instruction set;
// see lanes.hpp. Included after lanes.hpp and fft_lanes.hpp.
#include <cmath>

#include "frontend.hpp"

namespace pianox {
namespace PIANOX_ISA {
namespace {

// Index of virtual sample `pos` of a signal of n samples under a padding mode; -1 means zero.
inline std::int64_t padded_index(std::int64_t pos, std::int64_t n, PadMode mode) {
  if (pos >= 0 && pos < n) return pos;
  switch (mode) {
    case PadMode::constant: return -1;
    case PadMode::edge: return pos < 0 ? 0 : n - 1;
    case PadMode::symmetric: {  // edge sample repeated: Kaldi's reflection, numpy "symmetric"
      if (pos < 0) pos = -pos - 1;
      pos %= 2 * n;
      return pos >= n ? 2 * n - 1 - pos : pos;
    }
    case PadMode::reflect: {  // edge sample not repeated: numpy "reflect"
      if (n == 1) return 0;
      const std::int64_t period = 2 * (n - 1);
      if (pos < 0) pos = -pos;
      pos %= period;
      return pos >= n ? period - pos : pos;
    }
  }
  return -1;
}

inline void record_bad(std::int64_t *slot, std::int64_t index) {
  std::int64_t seen = __atomic_load_n(slot, __ATOMIC_RELAXED);
  while ((seen < 0 || index < seen) &&
         !__atomic_compare_exchange_n(slot, &seen, index, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

// Checks samples [lo, hi) of one waveform; returns false (and records the first bad one) on NaN/inf.
inline bool check_finite(const float *src, std::int64_t lo, std::int64_t hi, std::int64_t flat_base,
                         std::int64_t *slot) {
  if (all_finite(src + lo, hi - lo)) return true;
  for (std::int64_t i = lo; i < hi; ++i)
    if (!all_finite(src + i, 1)) {
      record_bad(slot, flat_base + i);
      break;
    }
  return false;
}

inline void add_dither(V *x, int win, float dither, std::uint64_t seed, std::int64_t b, std::int64_t t, int lane) {
  const std::uint64_t key = mix64(seed ^ mix64((static_cast<std::uint64_t>(b) << 32) ^ static_cast<std::uint64_t>(t)));
  for (int i = 0; i < win; i += 2) {
    const float u1 = uniform01(mix64(key + static_cast<std::uint64_t>(i)));
    const float u2 = uniform01(mix64(key + static_cast<std::uint64_t>(i) + 1));
    const float r = std::sqrt(-2.0f * std::log(u1)), angle = 6.28318530717958647f * u2;
    x[i][lane] += dither * r * std::cos(angle);
    if (i + 1 < win) x[i + 1][lane] += dither * r * std::sin(angle);
  }
}

void frontend_items(const KernelArgs &a, std::int64_t begin, std::int64_t end, float *scratch_floats) {
  const RealPlan &rp = *a.fft;
  const int bins = rp.bins(), win = a.win, n_fft = rp.n;
  V *x = reinterpret_cast<V *>(scratch_floats);  // n_fft vectors: the frame, then the FFT's input
  V *work = x + n_fft, *pw = work + rp.scratch_vectors(), *feat = pw + bins;
  const std::int64_t computed = a.groups * W < a.frames ? a.groups * W : a.frames;  // frames computed
  const int mel0 = a.energy == Energy::first ? 1 : 0;
  const int energy_at = a.energy == Energy::first ? 0 : a.n_mels;

  for (std::int64_t item = begin; item < end; ++item) {
    const std::int64_t b = item / a.groups, g = item % a.groups, t0 = g * W;
    const int valid = static_cast<int>(computed - t0 < W ? computed - t0 : W);
    const float *src = a.wave + b * a.samples;

    // Every sample is checked exactly once: this group owns [start(t0), start(t0 + W)), the first
    // and last groups also own the head and tail of the waveform.
    std::int64_t lo = g == 0 ? 0 : a.first_start + t0 * a.hop;
    std::int64_t hi = g == a.groups - 1 ? a.samples : a.first_start + (t0 + W) * a.hop;
    lo = lo < 0 ? 0 : (lo > a.samples ? a.samples : lo);
    hi = hi < lo ? lo : (hi > a.samples ? a.samples : hi);
    if (!check_finite(src, lo, hi, b * a.samples, a.bad_index)) continue;

    // Gather: lane l holds frame t0 + l (the last valid frame repeated in unused lanes).
    std::int64_t start[W] = {};
    for (int l = 0; l < W; ++l) start[l] = a.first_start + (t0 + (l < valid ? l : valid - 1)) * a.hop;
    if (start[0] >= 0 && start[W - 1] + win <= a.samples) {
      // W samples of W frames at a time, transposed in registers; the tail by gathers.
      int i = 0;
      for (; i + W <= win; i += W) {
        for (int l = 0; l < W; ++l) x[i + l] = load_unaligned(src + start[l] + i);
        transpose(x + i);
      }
      if (i < win && start[W - 1] - start[0] <= 0x7fffffff) {
        VI offsets;
        for (int l = 0; l < W; ++l) offsets[l] = static_cast<std::int32_t>(start[l] - start[0]);
        for (; i < win; ++i) x[i] = gather(src + start[0] + i, offsets);
      }
      for (; i < win; ++i)
        for (int l = 0; l < W; ++l) x[i][l] = src[start[l] + i];
    } else {
      for (int i = 0; i < win; ++i) {
        V v{};
        for (int l = 0; l < W; ++l) {
          const std::int64_t idx = padded_index(start[l] + i, a.samples, a.pad);
          v[l] = idx < 0 ? 0.0f : src[idx];
        }
        x[i] = v;
      }
    }
    if (a.dither != 0.0f)
      for (int l = 0; l < valid; ++l) add_dither(x, win, a.dither, a.seed, b, t0 + l, l);

    V mean{};
    if (a.remove_dc) {
      V sum[4] = {};  // four chains: a single running sum is latency-bound
      int i = 0;
      for (; i + 3 < win; i += 4)
        for (int j = 0; j < 4; ++j) sum[j] += x[i + j];
      for (; i < win; ++i) sum[0] += x[i];
      mean = ((sum[0] + sum[1]) + (sum[2] + sum[3])) / static_cast<float>(win);
    }
    V energy{};
    if (a.energy != Energy::none && a.raw_energy)
      for (int i = 0; i < win; ++i) energy += (x[i] - mean) * (x[i] - mean);

    // Pre-emphasis (y_i = x_i - c x_{i-1}, x_{-1} = x_0) and window, in place from the end, then
    // zero padding to n_fft.
    const float c = a.preemphasis;
    const float *w = a.window;
    V next = x[win - 1] - mean;
    if (a.energy != Energy::none && !a.raw_energy) {
      for (int i = win - 1; i >= 1; --i) {
        const V prev = x[i - 1] - mean;
        x[i] = (next - c * prev) * w[i];
        energy += x[i] * x[i];
        next = prev;
      }
      x[0] = (next - c * next) * w[0];
      energy += x[0] * x[0];
    } else {
      for (int i = win - 1; i >= 1; --i) {
        const V prev = x[i - 1] - mean;
        x[i] = (next - c * prev) * w[i];
        next = prev;
      }
      x[0] = (next - c * next) * w[0];
    }
    for (int i = win; i < n_fft; ++i) x[i] = V{};

    if (a.power == 2.0) {
      rfft_bins(rp, x, work, [&](int k, V re, V im) { pw[k] = re * re + im * im; });
    } else if (a.power == 1.0) {
      rfft_bins(rp, x, work, [&](int k, V re, V im) { pw[k] = vsqrt(re * re + im * im); });
    } else {
      const float half_power = static_cast<float>(a.power * 0.5);
      rfft_bins(rp, x, work, [&](int k, V re, V im) {
        V p = re * re + im * im;
        for (int l = 0; l < W; ++l) p[l] = std::pow(p[l], half_power);
        pw[k] = p;
      });
    }

    for (int m = 0; m < a.n_mels; ++m) {
      const float *weights = a.mel_weights + a.mel_offset[m] - a.mel_start[m];
      V acc0{}, acc1{};
      int k = a.mel_start[m];
      for (; k + 1 < a.mel_end[m]; k += 2) {
        acc0 += weights[k] * pw[k];
        acc1 += weights[k + 1] * pw[k + 1];
      }
      if (k < a.mel_end[m]) acc0 += weights[k] * pw[k];
      feat[mel0 + m] = acc0 + acc1;
    }
    if (a.compression != Compression::none) {
      const V floor = splat(a.floor);
      for (int m = 0; m < a.n_mels; ++m) feat[mel0 + m] = vlog(vmax(feat[mel0 + m], floor)) * a.log_scale + a.log_offset;
    }
    if (a.energy != Energy::none)
      feat[energy_at] = vmax(vlog(vmax(energy, splat(1.1920928955078125e-07f))), splat(a.log_energy_floor));
    if (a.shift != 0.0f || a.scale != 1.0f)
      for (int f = 0; f < a.features; ++f) feat[f] = (feat[f] - a.shift) * a.scale;

    if (!a.patches) {  // W x W block transposes turn lane vectors into rows of features
      float *rows = a.out + (b * a.frames + t0) * a.features;
      int f0 = 0;
      for (; f0 + W <= a.features; f0 += W) {
        transpose(feat + f0);
        for (int l = 0; l < valid; ++l) store_unaligned(rows + l * a.features + f0, feat[f0 + l]);
      }
      for (int l = 0; l < valid; ++l)
        for (int f = f0; f < a.features; ++f) rows[l * a.features + f] = feat[f][l];
      continue;
    }
    // Patch (i_f, i_t) holds frames i_t tstride + kw and features i_f fstride + kh at kh P + kw.
    const int P = a.patch;
    float *base = a.out + b * a.freq_patches * a.time_patches * P * P;
    for (int l = 0; l < valid; ++l) {
      const std::int64_t t = t0 + l;
      const std::int64_t it_lo = t < P ? 0 : (t - P) / a.tstride + 1;
      const std::int64_t it_hi = t / a.tstride < a.time_patches - 1 ? t / a.tstride : a.time_patches - 1;
      for (std::int64_t it = it_lo; it <= it_hi; ++it) {
        const std::int64_t kw = t - it * a.tstride;
        for (int f = 0; f < a.features; ++f) {
          const std::int64_t if_lo = f < P ? 0 : (f - P) / a.fstride + 1;
          const std::int64_t if_hi = f / a.fstride < a.freq_patches - 1 ? f / a.fstride : a.freq_patches - 1;
          for (std::int64_t fi = if_lo; fi <= if_hi; ++fi)
            base[(fi * a.time_patches + it) * P * P + (f - fi * a.fstride) * P + kw] = feat[f][l];
        }
      }
    }
  }
}

// Rows [begin, end) of real rows of plan.n samples -> interleaved complex bins.
void rfft_rows(const RealPlan &rp, const float *in, float *out, std::int64_t begin, std::int64_t end,
               std::int64_t /*rows*/, float *scratch_floats) {
  const int n = rp.n, bins = rp.bins();
  V *y = reinterpret_cast<V *>(scratch_floats), *work = y + n;
  for (std::int64_t r0 = begin; r0 < end; r0 += W) {
    const int valid = static_cast<int>(end - r0 < W ? end - r0 : W);
    for (int j = 0; j < n; ++j) {
      V v{};
      for (int l = 0; l < W; ++l) v[l] = in[(r0 + (l < valid ? l : valid - 1)) * n + j];
      y[j] = v;
    }
    rfft_bins(rp, y, work, [&](int k, V re, V im) {
      for (int l = 0; l < valid; ++l) {
        out[((r0 + l) * bins + k) * 2] = re[l];
        out[((r0 + l) * bins + k) * 2 + 1] = im[l];
      }
    });
  }
}

// Rows [begin, end) of interleaved complex rows of plan.n points -> their DFTs.
void fft_rows(const ComplexPlan &plan, const float *in, float *out, std::int64_t begin, std::int64_t end,
              std::int64_t /*rows*/, float *scratch_floats) {
  const int n = plan.n;
  V *zr = reinterpret_cast<V *>(scratch_floats), *zi = zr + n, *fs = zi + n;
  for (std::int64_t r0 = begin; r0 < end; r0 += W) {
    const int valid = static_cast<int>(end - r0 < W ? end - r0 : W);
    for (int j = 0; j < n; ++j) {
      V re{}, im{};
      for (int l = 0; l < W; ++l) {
        const float *row = in + (r0 + (l < valid ? l : valid - 1)) * 2 * n;
        re[l] = row[2 * j];
        im[l] = row[2 * j + 1];
      }
      zr[j] = re;
      zi[j] = im;
    }
    const Spectrum z = fft(plan, zr, zi, fs);
    for (int j = 0; j < n; ++j)
      for (int l = 0; l < valid; ++l) {
        out[((r0 + l) * n + j) * 2] = z.re[j][l];
        out[((r0 + l) * n + j) * 2 + 1] = z.im[j][l];
      }
  }
}

}  // namespace
}  // namespace PIANOX_ISA
}  // namespace pianox
