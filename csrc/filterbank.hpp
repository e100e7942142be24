// Analysis windows and mel filterbanks, built in double precision exactly as Kaldi
// (torchaudio.compliance.kaldi) and librosa (librosa.filters.mel) define them, then stored sparse.
#pragma once

#include <string>
#include <vector>

namespace pianox {

enum class WindowType { hann, hamming, povey, rectangular, blackman };

// Parses "hann"/"hanning", "hamming", "povey", "rectangular"/"boxcar"/"ones", "blackman";
// throws std::invalid_argument naming the accepted values otherwise.
WindowType parse_window(const std::string &name);

// Window of `length` samples. periodic=false is the symmetric window (denominator length - 1,
// Kaldi and torch periodic=False); periodic=true uses denominator `length` (scipy fftbins=True).
// povey is hann**0.85; blackman is c - 0.5 cos(a n) + (0.5 - c) cos(2 a n) with c = blackman_coeff.
std::vector<float> make_window(WindowType type, int length, bool periodic, double blackman_coeff);

enum class MelScale { kaldi, htk, slaney };
enum class MelNorm { none, slaney, p_norm };

struct MelSpec {
  MelScale scale = MelScale::kaldi;
  int n_mels = 23;
  int n_fft = 512;
  double sample_rate = 16000.0;
  double fmin = 20.0;
  double fmax = 8000.0;  // absolute Hz (callers resolve Kaldi's high_freq <= 0 convention)
  MelNorm norm = MelNorm::none;
  double norm_p = 1.0;  // for p_norm; infinity is the max norm
};

// Triangular filters over the n_fft/2 + 1 FFT bins with, per filter, the [start, end) range of
// bins where it is non-zero and its weights there (`weights[offset[m] + k - start[m]]`).
//  kaldi:  triangles in Kaldi's mel scale 1127 ln(1 + f/700) over bins 0..n_fft/2 - 1, the
//          Nyquist bin weighted 0, band edges at fmin/fmax split into n_mels + 1 equal steps.
//  htk / slaney: librosa's filters, triangles in Hz between mel-spaced edges (librosa's htk or
//          Slaney mel scale), with norm none, "slaney" (2 / bandwidth) or a p-norm per filter.
struct SparseFilterbank {
  int n_mels = 0;
  int n_bins = 0;
  std::vector<int> start, end, offset;
  std::vector<float> weights;

  std::vector<float> dense() const;  // (n_mels, n_bins), row-major
};

// Throws std::invalid_argument for ranges Kaldi or librosa would reject.
SparseFilterbank make_filterbank(const MelSpec &spec);

}  // namespace pianox
