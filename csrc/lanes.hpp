// Lane vectors for one instruction set. Included only by the isa_*.cpp translation units, after
// they define PIANOX_LANES (floats per vector) and PIANOX_ISA (a namespace of their own); all of
// it has internal linkage so code built for one instruction set never leaks into another.
// Lanes hold the same sample of different frames, so every transform is plain vertical SIMD.
#include <cstdint>
#include <cstring>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace pianox {
namespace PIANOX_ISA {
namespace {

constexpr int W = PIANOX_LANES;
typedef float V __attribute__((vector_size(PIANOX_LANES * sizeof(float))));
typedef std::int32_t VI __attribute__((vector_size(PIANOX_LANES * sizeof(float))));

inline V splat(float x) { return V{} + x; }

inline V load_unaligned(const float *p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

inline void store_unaligned(float *p, V v) { std::memcpy(p, &v, sizeof(V)); }

// v[l] = base[offsets[l]]: one hardware gather where the instruction set has it.
inline V gather(const float *base, VI offsets) {
#if defined(__AVX512F__) && PIANOX_LANES == 16
  return (V)_mm512_i32gather_ps((__m512i)offsets, base, 4);
#elif defined(__AVX2__) && PIANOX_LANES == 8
  return (V)_mm256_i32gather_ps(base, (__m256i)offsets, 4);
#else
  V v{};
  for (int l = 0; l < W; ++l) v[l] = base[offsets[l]];
  return v;
#endif
}

// True when none of p[0..n) is NaN or inf (exponent bits all set), checked W floats at a time.
inline bool all_finite(const float *p, std::int64_t n) {
  VI bad{};
  std::int64_t i = 0;
  for (; i + W <= n; i += W) {
    VI u;
    std::memcpy(&u, p + i, sizeof(VI));
    bad |= (u & 0x7f800000) == 0x7f800000;
  }
  int any = 0;
  for (int l = 0; l < W; ++l) any |= bad[l];
  for (; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, p + i, sizeof(u));
    any |= (u & 0x7f800000u) == 0x7f800000u;
  }
  return any == 0;
}

// 1 / x to ~1 ulp: the hardware estimate refined by one Newton step where there is one.
inline V reciprocal(V x) {
#if defined(__AVX512F__) && PIANOX_LANES == 16
  const V r = (V)_mm512_rcp14_ps((__m512)x);
  return r * (2.0f - x * r);
#elif defined(__AVX2__) && PIANOX_LANES == 8
  const V r = (V)_mm256_rcp_ps((__m256)x);
  const V r1 = r * (2.0f - x * r);
  return r1 * (2.0f - x * r1);
#else
  return 1.0f / x;
#endif
}

// Transposes the W x W block rows[0..W) in place (rows[i][j] <-> rows[j][i]).
inline void transpose(V *rows) {
#if defined(__AVX512F__) && PIANOX_LANES == 16
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps((__m512)rows[i], (__m512)rows[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps((__m512)rows[i], (__m512)rows[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    u[i] = (__m512)_mm512_unpacklo_pd((__m512d)t[i], (__m512d)t[i + 2]);
    u[i + 1] = (__m512)_mm512_unpackhi_pd((__m512d)t[i], (__m512d)t[i + 2]);
    u[i + 2] = (__m512)_mm512_unpacklo_pd((__m512d)t[i + 1], (__m512d)t[i + 3]);
    u[i + 3] = (__m512)_mm512_unpackhi_pd((__m512d)t[i + 1], (__m512d)t[i + 3]);
  }
  // u[4g + c], 128-bit lane k, holds rows 4g..4g+3 of column 4k + c.
  for (int c = 0; c < 4; ++c) {
    const __m512 a = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), b = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
    const __m512 d = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88), e = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
    rows[c] = (V)_mm512_shuffle_f32x4(a, d, 0x88);
    rows[8 + c] = (V)_mm512_shuffle_f32x4(a, d, 0xdd);
    rows[4 + c] = (V)_mm512_shuffle_f32x4(b, e, 0x88);
    rows[12 + c] = (V)_mm512_shuffle_f32x4(b, e, 0xdd);
  }
#elif defined(__AVX2__) && PIANOX_LANES == 8
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps((__m256)rows[i], (__m256)rows[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps((__m256)rows[i], (__m256)rows[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
  }
  for (int c = 0; c < 4; ++c) {
    rows[c] = (V)_mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    rows[4 + c] = (V)_mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
#else
  for (int i = 0; i < W; ++i)
    for (int j = i + 1; j < W; ++j) {
      const float v = rows[i][j];
      rows[i][j] = rows[j][i];
      rows[j][i] = v;
    }
#endif
}

inline V select(VI mask, V a, V b) { return (V)((mask & (VI)a) | (~mask & (VI)b)); }
inline V vmax(V a, V b) {
#if defined(__AVX512F__) && PIANOX_LANES == 16
  return (V)_mm512_max_ps((__m512)a, (__m512)b);
#elif defined(__AVX2__) && PIANOX_LANES == 8
  return (V)_mm256_max_ps((__m256)a, (__m256)b);
#else
  return select(a > b, a, b);
#endif
}

inline V vsqrt(V x) {
  for (int l = 0; l < W; ++l) x[l] = __builtin_sqrtf(x[l]);
  return x;
}

// Natural log of positive, normal or infinite x, within ~2 ulp: x = 2^e m with m in
// [sqrt(1/2), sqrt(2)), ln m = 2 atanh(u), u = (m - 1) / (m + 1), |u| <= 0.172, as an odd series
// (accurate to 2e-11 for |u| <= 0.2).
inline V vlog(V x) {
#if defined(__AVX512F__) && PIANOX_LANES == 16
  // getmant/getexp split x = 2^e m with m in [0.75, 1.5) directly (|u| <= 0.2).
  const V m = (V)_mm512_getmant_ps((__m512)x, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_src);
  const V ef = (V)_mm512_sub_ps(_mm512_getexp_ps((__m512)x), _mm512_getexp_ps((__m512)m));
#else
  const VI bits = (VI)x;
  VI e = ((bits >> 23) & 0xff) - 127;
  V m = (V)((bits & 0x007fffff) | 0x3f800000);
  const VI big = m > splat(1.41421356237f);
  m = select(big, m * 0.5f, m);
  e += big & 1;
  const V ef = __builtin_convertvector(e, V);
#endif
  const V u = (m - 1.0f) * reciprocal(m + 1.0f);
  const V u2 = u * u;
  const V series =
      2.0f + u2 * (0.666666667f + u2 * (0.4f + u2 * (0.285714286f + u2 * (0.222222222f + u2 * 0.181818182f))));
  // ln 2 split in a part exact in few bits and a correction, so e * ln2 adds no rounding.
  const V r = ef * 0.693359375f + (u * series + ef * -2.12194440e-4f);
  return select(x == splat(__builtin_inff()), x, r);
}

// Gaussian numbers from a counter-based generator: frame (b, t) and sample i always get the same
// value, whichever thread or lane computes it.
inline std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline float uniform01(std::uint64_t bits) { return (static_cast<float>(bits >> 40) + 0.5f) * (1.0f / 16777216.0f); }

}  // namespace
}  // namespace PIANOX_ISA
}  // namespace pianox
