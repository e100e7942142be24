// The FFT over lane vectors (one transform per lane), for one instruction set; see lanes.hpp.
// Complex data is split: re[] and im[] arrays of lane vectors.
#include "fft_plan.hpp"

namespace pianox {
namespace PIANOX_ISA {
namespace {

inline void twiddle(V &re, V &im, const float *w) {
  const V t = re * w[0] - im * w[1];
  im = re * w[1] + im * w[0];
  re = t;
}

// In-place DFT of R points (forward sign) on (r[j], i[j]).
template <int R>
inline void butterfly(V *r, V *i);

template <>
inline void butterfly<2>(V *r, V *i) {
  const V dr = r[0] - r[1], di = i[0] - i[1];
  r[0] += r[1];
  i[0] += i[1];
  r[1] = dr;
  i[1] = di;
}

template <>
inline void butterfly<3>(V *r, V *i) {
  const float h = 0.866025403784438647f;  // sin(2 pi / 3)
  const V tr = r[1] + r[2], ti = i[1] + i[2], dr = r[1] - r[2], di = i[1] - i[2];
  const V mr = r[0] - 0.5f * tr, mi = i[0] - 0.5f * ti;
  r[0] += tr;
  i[0] += ti;
  r[1] = mr + h * di;
  i[1] = mi - h * dr;
  r[2] = mr - h * di;
  i[2] = mi + h * dr;
}

template <>
inline void butterfly<4>(V *r, V *i) {
  const V t0r = r[0] + r[2], t0i = i[0] + i[2], t1r = r[0] - r[2], t1i = i[0] - i[2];
  const V t2r = r[1] + r[3], t2i = i[1] + i[3];
  const V t3r = i[1] - i[3], t3i = r[3] - r[1];  // -i (a1 - a3)
  r[0] = t0r + t2r;
  i[0] = t0i + t2i;
  r[2] = t0r - t2r;
  i[2] = t0i - t2i;
  r[1] = t1r + t3r;
  i[1] = t1i + t3i;
  r[3] = t1r - t3r;
  i[3] = t1i - t3i;
}

template <>
inline void butterfly<8>(V *r, V *i) {
  // X_2k = DFT4(a_j + a_j+4), X_2k+1 = DFT4((a_j - a_j+4) w8^j), w8 = exp(-i pi / 4).
  const float h = 0.707106781186547524f;
  V br[4], bi[4], cr[4], ci[4];
  for (int j = 0; j < 4; ++j) {
    br[j] = r[j] + r[j + 4];
    bi[j] = i[j] + i[j + 4];
    cr[j] = r[j] - r[j + 4];
    ci[j] = i[j] - i[j + 4];
  }
  const V c1r = (cr[1] + ci[1]) * h, c1i = (ci[1] - cr[1]) * h;
  const V c2r = ci[2], c2i = -cr[2];
  const V c3r = (ci[3] - cr[3]) * h, c3i = -(cr[3] + ci[3]) * h;
  cr[1] = c1r, ci[1] = c1i, cr[2] = c2r, ci[2] = c2i, cr[3] = c3r, ci[3] = c3i;
  butterfly<4>(br, bi);
  butterfly<4>(cr, ci);
  for (int k = 0; k < 4; ++k) {
    r[2 * k] = br[k];
    i[2 * k] = bi[k];
    r[2 * k + 1] = cr[k];
    i[2 * k + 1] = ci[k];
  }
}

template <>
inline void butterfly<5>(V *r, V *i) {
  const float c1 = 0.309016994374947424f, c2 = -0.809016994374947424f;  // cos(2 pi k / 5)
  const float s1 = 0.951056516295153572f, s2 = 0.587785252292473129f;   // sin(2 pi k / 5)
  const V t1r = r[1] + r[4], t1i = i[1] + i[4], d1r = r[1] - r[4], d1i = i[1] - i[4];
  const V t2r = r[2] + r[3], t2i = i[2] + i[3], d2r = r[2] - r[3], d2i = i[2] - i[3];
  const V b1r = r[0] + c1 * t1r + c2 * t2r, b1i = i[0] + c1 * t1i + c2 * t2i;
  const V b2r = r[0] + c2 * t1r + c1 * t2r, b2i = i[0] + c2 * t1i + c1 * t2i;
  // e1 = -i (s1 d1 + s2 d2), e2 = -i (s2 d1 - s1 d2)
  const V e1r = s1 * d1i + s2 * d2i, e1i = -(s1 * d1r + s2 * d2r);
  const V e2r = s2 * d1i - s1 * d2i, e2i = -(s2 * d1r - s1 * d2r);
  r[0] += t1r + t2r;
  i[0] += t1i + t2i;
  r[1] = b1r + e1r;
  i[1] = b1i + e1i;
  r[4] = b1r - e1r;
  i[4] = b1i - e1i;
  r[2] = b2r + e2r;
  i[2] = b2i + e2i;
  r[3] = b2r - e2r;
  i[3] = b2i - e2i;
}

// One Stockham autosort stage (decimation in frequency): s interleaved sequences of length
// n = R m in x become s R interleaved sequences of length m in y, twiddled for the next stage.
// IS is the input stride in vectors: 2 lets the first stage read packed real samples in place.
template <int R, int IS = 1>
void stage(int n, int s, const float *tw, const V *__restrict xr, const V *__restrict xi, V *__restrict yr,
           V *__restrict yi) {
  const int m = n / R;
  for (int p = 0; p < m; ++p) {
    const float *w = tw + 2 * (R - 1) * p;
    for (int q = 0; q < s; ++q) {
      V ar[R], ai[R];
      for (int j = 0; j < R; ++j) {
        ar[j] = xr[IS * (q + s * (p + j * m))];
        ai[j] = xi[IS * (q + s * (p + j * m))];
      }
      butterfly<R>(ar, ai);
      V *outr = yr + q + s * R * p, *outi = yi + q + s * R * p;
      outr[0] = ar[0];
      outi[0] = ai[0];
      for (int k = 1; k < R; ++k) {
        if (p != 0) twiddle(ar[k], ai[k], w + 2 * (k - 1));
        outr[s * k] = ar[k];
        outi[s * k] = ai[k];
      }
    }
  }
}

struct Spectrum {
  V *re, *im;
};

Spectrum fft(const ComplexPlan &plan, V *re, V *im, V *scratch);

template <int IS>
void run_stage(int radix, int n, int s, const float *tw, const V *xr, const V *xi, V *yr, V *yi) {
  switch (radix) {
    case 8: stage<8, IS>(n, s, tw, xr, xi, yr, yi); break;
    case 4: stage<4, IS>(n, s, tw, xr, xi, yr, yi); break;
    case 2: stage<2, IS>(n, s, tw, xr, xi, yr, yi); break;
    case 3: stage<3, IS>(n, s, tw, xr, xi, yr, yi); break;
    default: stage<5, IS>(n, s, tw, xr, xi, yr, yi); break;
  }
}

// Stages [first, end) of a direct plan, ping-ponging between (xr, xi) and (yr, yi) (n vectors
// each); returns where the result ends.
Spectrum run_stages(const ComplexPlan &plan, std::size_t first, std::size_t last, V *xr, V *xi, V *yr, V *yi) {
  int sub = plan.n, s = 1;
  for (std::size_t st = 0; st < first; ++st) s *= plan.radices[st], sub /= plan.radices[st];
  for (std::size_t st = first; st < last; ++st) {
    const int r = plan.radices[st];
    run_stage<1>(r, sub, s, plan.twiddles.data() + plan.twiddle_offset[st], xr, xi, yr, yi);
    V *t = xr; xr = yr; yr = t;
    t = xi; xi = yi; yi = t;
    s *= r;
    sub /= r;
  }
  return {xr, xi};
}

Spectrum fft_direct(const ComplexPlan &plan, V *re, V *im, V *scratch) {
  return run_stages(plan, 0, plan.radices.size(), re, im, scratch, scratch + plan.n);
}

Spectrum fft_bluestein(const ComplexPlan &plan, V *re, V *im, V *scratch) {
  const int n = plan.n, m = plan.m;
  V *ar = scratch, *ai = scratch + m, *inner_scratch = scratch + 2 * m;
  const float *c = plan.chirp.data(), *k = plan.kernel.data();
  for (int j = 0; j < n; ++j) {
    ar[j] = re[j] * c[2 * j] - im[j] * c[2 * j + 1];
    ai[j] = re[j] * c[2 * j + 1] + im[j] * c[2 * j];
  }
  for (int j = n; j < m; ++j) ar[j] = ai[j] = V{};
  Spectrum A = fft(*plan.inner, ar, ai, inner_scratch);
  for (int j = 0; j < m; ++j) {  // conj(A K): the inverse transform as a forward one
    const V tr = A.re[j] * k[2 * j] - A.im[j] * k[2 * j + 1];
    A.im[j] = -(A.re[j] * k[2 * j + 1] + A.im[j] * k[2 * j]);
    A.re[j] = tr;
  }
  const Spectrum conv = fft(*plan.inner, A.re, A.im, A.re == ar ? inner_scratch : ar);
  for (int j = 0; j < n; ++j) {  // X_j = c_j conj(conv_j)
    re[j] = conv.re[j] * c[2 * j] + conv.im[j] * c[2 * j + 1];
    im[j] = conv.re[j] * c[2 * j + 1] - conv.im[j] * c[2 * j];
  }
  return {re, im};
}

// Forward DFT of re/im (plan.n lane vectors each), overwriting them and scratch
// (plan.scratch_vectors()); returns where the result lies (re/im or inside scratch).
Spectrum fft(const ComplexPlan &plan, V *re, V *im, V *scratch) {
  return plan.bluestein() ? fft_bluestein(plan, re, im, scratch) : fft_direct(plan, re, im, scratch);
}

// DFT of the plan.n real samples in y (overwritten; y must hold max(n, 2 * complex_size())
// vectors), work: plan.scratch_vectors(). Returns the complex_size() points to hand to real_bins.
Spectrum rfft(const RealPlan &rp, V *y, V *work) {
  const ComplexPlan &cp = *rp.complex;
  const int cs = rp.complex_size();
  if (rp.packed && !cp.bluestein() && !cp.radices.empty()) {
    // The first stage reads (y_2j, y_2j+1) as the packed complex samples; later stages
    // ping-pong between work and y itself.
    run_stage<2>(cp.radices[0], cs, 1, cp.twiddles.data(), y, y + 1, work, work + cs);
    return run_stages(cp, 1, cp.radices.size(), work, work + cs, y, y + cs);
  }
  V *zr = work, *zi = work + cs;
  for (int j = 0; j < cs; ++j) {
    zr[j] = rp.packed ? y[2 * j] : y[j];
    zi[j] = rp.packed ? y[2 * j + 1] : V{};
  }
  return fft(cp, zr, zi, work + 2 * cs);
}

// After fft() of the packed samples (zr, zi hold Z = FFT_{n/2}(x_2j + i x_2j+1)), calls
// emit(k, Xr, Xi) for the real signal's bins k = 0..n/2. Unpacked (odd n) plans hold X itself.
template <class Emit>
inline void real_bins(const RealPlan &plan, const V *zr, const V *zi, Emit &&emit) {
  const int half = plan.n / 2;
  if (!plan.packed) {
    for (int k = 0; k <= half; ++k) emit(k, zr[k], zi[k]);
    return;
  }
  const float *w = plan.split.data();
  for (int k = 0; k <= half; ++k) {
    const int k1 = k == half ? 0 : k, k2 = k == 0 ? 0 : half - k;
    const V ar = zr[k1], ai = zi[k1], br = zr[k2], bi = -zi[k2];  // Z_k and conj(Z_{M-k})
    const V er = (ar + br) * 0.5f, ei = (ai + bi) * 0.5f;
    const V orr = (ai - bi) * 0.5f, oi = (br - ar) * 0.5f;  // (Z_k - conj Z_{M-k}) / 2i
    emit(k, er + orr * w[2 * k] - oi * w[2 * k + 1], ei + oi * w[2 * k] + orr * w[2 * k + 1]);
  }
}

// Bin K of the real signal from Z_K and P = Z_{M-K}: X_K = E + w^K O with E = (Z + conj P) / 2,
// O = (Z - conj P) / 2i.
template <class Emit>
inline void split_bin(const float *w, int K, V zr, V zi, V pr, V pi, Emit &emit) {
  const V er = (zr + pr) * 0.5f, ei = (zi - pi) * 0.5f, orr = (zi + pi) * 0.5f, oi = (pr - zr) * 0.5f;
  emit(K, er + orr * w[2 * K] - oi * w[2 * K + 1], ei + oi * w[2 * K] + orr * w[2 * K + 1]);
}

// The last stage (m = 1, no twiddles) of a packed plan fused with the real-input split: the
// outputs of butterflies q and s - q are each other's partners Z_{M-K}, so every bin is emitted
// straight from registers instead of storing Z and reading it back.
template <int R, class Emit>
void last_stage_bins(const RealPlan &rp, int s, const V *xr, const V *xi, Emit &emit) {
  const int M = rp.complex_size();
  const float *w = rp.split.data();
  V ar[R], ai[R], br[R], bi[R];
  auto load = [&](int q, V *cr, V *ci) {
    for (int j = 0; j < R; ++j) {
      cr[j] = xr[q + s * j];
      ci[j] = xi[q + s * j];
    }
    butterfly<R>(cr, ci);
  };
  load(0, ar, ai);  // q = 0 pairs with itself: Z_{M - s k} is its output (R - k) mod R
  for (int k = 0; k < R; ++k) split_bin(w, s * k, ar[k], ai[k], ar[(R - k) % R], ai[(R - k) % R], emit);
  split_bin(w, M, ar[0], ai[0], ar[0], ai[0], emit);
  for (int q = 1; 2 * q <= s; ++q) {
    load(q, ar, ai);
    if (2 * q == s) {
      for (int k = 0; k < R; ++k) split_bin(w, q + s * k, ar[k], ai[k], ar[R - 1 - k], ai[R - 1 - k], emit);
      continue;
    }
    load(s - q, br, bi);
    for (int k = 0; k < R; ++k) {
      split_bin(w, q + s * k, ar[k], ai[k], br[R - 1 - k], bi[R - 1 - k], emit);
      split_bin(w, s - q + s * k, br[k], bi[k], ar[R - 1 - k], ai[R - 1 - k], emit);
    }
  }
}

// rfft() then emit(k, Xr, Xi) for every bin k = 0..n/2 (in no particular order).
template <class Emit>
void rfft_bins(const RealPlan &rp, V *y, V *work, Emit &&emit) {
  const ComplexPlan &cp = *rp.complex;
  const std::size_t stages = cp.radices.size();
  if (!rp.packed || cp.bluestein() || stages < 2) {
    const Spectrum z = rfft(rp, y, work);
    real_bins(rp, z.re, z.im, emit);
    return;
  }
  const int cs = rp.complex_size(), last = cp.radices[stages - 1];
  run_stage<2>(cp.radices[0], cs, 1, cp.twiddles.data(), y, y + 1, work, work + cs);
  const Spectrum z = run_stages(cp, 1, stages - 1, work, work + cs, y, y + cs);
  switch (last) {
    case 8: last_stage_bins<8>(rp, cs / 8, z.re, z.im, emit); break;
    case 4: last_stage_bins<4>(rp, cs / 4, z.re, z.im, emit); break;
    case 2: last_stage_bins<2>(rp, cs / 2, z.re, z.im, emit); break;
    case 3: last_stage_bins<3>(rp, cs / 3, z.re, z.im, emit); break;
    default: last_stage_bins<5>(rp, cs / 5, z.re, z.im, emit); break;
  }
}

}  // namespace
}  // namespace PIANOX_ISA
}  // namespace pianox
