#include "filterbank.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace pianox {

namespace {

constexpr double kPi = 3.14159265358979323846264338327950288;

std::string num(double x) {
  std::string s = std::to_string(x);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

double kaldi_mel(double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); }

// librosa.hz_to_mel / mel_to_hz (htk: 2595 log10(1 + f/700); Slaney: linear below 1 kHz at
// 200/3 Hz per mel, logarithmic above with 27 mels per factor 6.4).
constexpr double kSlaneyStep = 200.0 / 3.0, kSlaneyBreakHz = 1000.0;
const double kSlaneyBreakMel = kSlaneyBreakHz / kSlaneyStep;
const double kSlaneyLogStep = std::log(6.4) / 27.0;

double librosa_hz_to_mel(double hz, bool htk) {
  if (htk) return 2595.0 * std::log10(1.0 + hz / 700.0);
  if (hz >= kSlaneyBreakHz) return kSlaneyBreakMel + std::log(hz / kSlaneyBreakHz) / kSlaneyLogStep;
  return hz / kSlaneyStep;
}

double librosa_mel_to_hz(double mel, bool htk) {
  if (htk) return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
  if (mel >= kSlaneyBreakMel) return kSlaneyBreakHz * std::exp(kSlaneyLogStep * (mel - kSlaneyBreakMel));
  return kSlaneyStep * mel;
}

std::vector<double> kaldi_weights(const MelSpec &s, int n_bins) {
  const double nyquist = 0.5 * s.sample_rate;
  if (s.n_mels < 3) throw std::invalid_argument("kaldi mel filterbank needs n_mels >= 3, got " + std::to_string(s.n_mels));
  if (s.n_fft % 2 != 0) throw std::invalid_argument("kaldi mel filterbank needs an even FFT size, got " + std::to_string(s.n_fft));
  if (!(s.fmin >= 0.0 && s.fmin < nyquist && s.fmax > 0.0 && s.fmax <= nyquist && s.fmin < s.fmax))
    throw std::invalid_argument("kaldi mel filterbank needs 0 <= low_freq < high_freq <= Nyquist (" + num(nyquist) +
                                " Hz), got low_freq=" + num(s.fmin) + " high_freq=" + num(s.fmax));
  const double bin_width = s.sample_rate / s.n_fft;
  const double mel_low = kaldi_mel(s.fmin), mel_high = kaldi_mel(s.fmax);
  const double delta = (mel_high - mel_low) / (s.n_mels + 1);
  std::vector<double> w(static_cast<std::size_t>(s.n_mels) * n_bins, 0.0);
  for (int m = 0; m < s.n_mels; ++m) {
    const double left = mel_low + m * delta, centre = mel_low + (m + 1.0) * delta, right = mel_low + (m + 2.0) * delta;
    for (int k = 0; k < s.n_fft / 2; ++k) {  // the Nyquist bin keeps weight 0, as in Kaldi
      const double mel = kaldi_mel(bin_width * k);
      const double up = (mel - left) / (centre - left), down = (right - mel) / (right - centre);
      w[static_cast<std::size_t>(m) * n_bins + k] = std::max(0.0, std::min(up, down));
    }
  }
  return w;
}

std::vector<double> librosa_weights(const MelSpec &s, int n_bins) {
  if (s.n_mels < 1) throw std::invalid_argument("n_mels must be >= 1, got " + std::to_string(s.n_mels));
  if (!(s.fmin >= 0.0 && s.fmax > s.fmin))
    throw std::invalid_argument("mel filterbank needs 0 <= fmin < fmax, got fmin=" + num(s.fmin) + " fmax=" + num(s.fmax));
  const bool htk = s.scale == MelScale::htk;
  // Band edges: n_mels + 2 points evenly spaced in mel (np.linspace arithmetic), back in Hz.
  const int points = s.n_mels + 2;
  const double lo = librosa_hz_to_mel(s.fmin, htk), hi = librosa_hz_to_mel(s.fmax, htk);
  const double step = (hi - lo) / (points - 1);
  std::vector<double> edges(static_cast<std::size_t>(points));
  for (int i = 0; i < points; ++i) edges[static_cast<std::size_t>(i)] = librosa_mel_to_hz(i == points - 1 ? hi : i * step + lo, htk);
  const double bin_hz = 1.0 / (s.n_fft * (1.0 / s.sample_rate));  // np.fft.rfftfreq's arithmetic
  std::vector<double> w(static_cast<std::size_t>(s.n_mels) * n_bins, 0.0);
  for (int m = 0; m < s.n_mels; ++m) {
    const double f0 = edges[static_cast<std::size_t>(m)], f1 = edges[static_cast<std::size_t>(m) + 1],
                 f2 = edges[static_cast<std::size_t>(m) + 2];
    const double slaney = 2.0 / (f2 - f0);
    for (int k = 0; k < n_bins; ++k) {
      const double freq = k * bin_hz;
      const double lower = -(f0 - freq) / (f1 - f0), upper = (f2 - freq) / (f2 - f1);
      // librosa stores the triangle as float32, then scales it in double precision.
      double tri = static_cast<float>(std::max(0.0, std::min(lower, upper)));
      if (s.norm == MelNorm::slaney) tri *= slaney;
      w[static_cast<std::size_t>(m) * n_bins + k] = tri;
    }
    if (s.norm == MelNorm::p_norm) {
      double length = 0.0;
      double *row = &w[static_cast<std::size_t>(m) * n_bins];
      if (std::isinf(s.norm_p)) {
        for (int k = 0; k < n_bins; ++k) length = std::max(length, std::abs(row[k]));
      } else {
        for (int k = 0; k < n_bins; ++k) length += std::pow(std::abs(row[k]), s.norm_p);
        length = std::pow(length, 1.0 / s.norm_p);
      }
      // librosa.util.normalize leaves rows below the smallest normal float32 unscaled.
      if (length >= std::numeric_limits<float>::min())
        for (int k = 0; k < n_bins; ++k) row[k] /= length;
    }
  }
  return w;
}

}  // namespace

WindowType parse_window(const std::string &name) {
  if (name == "hann" || name == "hanning") return WindowType::hann;
  if (name == "hamming") return WindowType::hamming;
  if (name == "povey") return WindowType::povey;
  if (name == "rectangular" || name == "boxcar" || name == "ones") return WindowType::rectangular;
  if (name == "blackman") return WindowType::blackman;
  throw std::invalid_argument("unknown window '" + name +
                              "'; expected one of hann, hanning, hamming, povey, rectangular, boxcar, blackman");
}

std::vector<float> make_window(WindowType type, int length, bool periodic, double blackman_coeff) {
  if (length < 1) throw std::invalid_argument("window length must be >= 1, got " + std::to_string(length));
  std::vector<float> w(static_cast<std::size_t>(length), 1.0f);
  const int denom = periodic ? length : length - 1;
  if (type == WindowType::rectangular || denom == 0) return w;
  const double a = 2.0 * kPi / denom;
  for (int i = 0; i < length; ++i) {
    const double c1 = std::cos(a * i), c2 = std::cos(2.0 * a * i);
    double v = 1.0;
    switch (type) {
      case WindowType::hann: v = 0.5 - 0.5 * c1; break;
      case WindowType::hamming: v = 0.54 - 0.46 * c1; break;
      case WindowType::povey: v = std::pow(std::max(0.0, 0.5 - 0.5 * c1), 0.85); break;
      case WindowType::blackman: v = blackman_coeff - 0.5 * c1 + (0.5 - blackman_coeff) * c2; break;
      case WindowType::rectangular: break;
    }
    w[static_cast<std::size_t>(i)] = static_cast<float>(v);
  }
  return w;
}

SparseFilterbank make_filterbank(const MelSpec &spec) {
  if (spec.n_fft < 1) throw std::invalid_argument("n_fft must be >= 1, got " + std::to_string(spec.n_fft));
  if (!(spec.sample_rate > 0.0)) throw std::invalid_argument("sample rate must be > 0, got " + num(spec.sample_rate));
  if (spec.norm == MelNorm::p_norm && !(spec.norm_p > 0.0))
    throw std::invalid_argument("mel norm must be 'slaney', None or a p > 0, got " + num(spec.norm_p));
  const int n_bins = spec.n_fft / 2 + 1;
  const std::vector<double> dense =
      spec.scale == MelScale::kaldi ? kaldi_weights(spec, n_bins) : librosa_weights(spec, n_bins);
  SparseFilterbank fb;
  fb.n_mels = spec.n_mels;
  fb.n_bins = n_bins;
  for (int m = 0; m < spec.n_mels; ++m) {
    const double *row = &dense[static_cast<std::size_t>(m) * n_bins];
    int lo = 0, hi = n_bins;
    while (lo < hi && row[lo] == 0.0) ++lo;
    while (hi > lo && row[hi - 1] == 0.0) --hi;
    fb.start.push_back(lo);
    fb.end.push_back(hi);
    fb.offset.push_back(static_cast<int>(fb.weights.size()));
    for (int k = lo; k < hi; ++k) fb.weights.push_back(static_cast<float>(row[k]));
  }
  return fb;
}

std::vector<float> SparseFilterbank::dense() const {
  std::vector<float> out(static_cast<std::size_t>(n_mels) * n_bins, 0.0f);
  for (int m = 0; m < n_mels; ++m)
    for (int k = start[static_cast<std::size_t>(m)]; k < end[static_cast<std::size_t>(m)]; ++k)
      out[static_cast<std::size_t>(m) * n_bins + k] =
          weights[static_cast<std::size_t>(offset[static_cast<std::size_t>(m)] + k - start[static_cast<std::size_t>(m)])];
  return out;
}

}  // namespace pianox
