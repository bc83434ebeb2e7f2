#include "trainer/report/axis.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace wm::report {

double Scale::unit(double v) const {
  double t;
  if (log) {
    const double l = std::log10(std::max(lo, 1e-300)), h = std::log10(std::max(hi, 1e-300));
    t = h > l ? (std::log10(std::max(v, lo)) - l) / (h - l) : 0.5;
  } else {
    t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
  }
  return std::clamp(t, 0.0, 1.0);
}

double Scale::operator()(double v) const { return p0 + unit(v) * (p1 - p0); }

std::vector<double> ticks(double lo, double hi, bool log, int target) {
  std::vector<double> out;
  if (!(hi >= lo) || !std::isfinite(lo) || !std::isfinite(hi)) return out;
  if (log) {
    if (lo <= 0) return out;
    const int a = static_cast<int>(std::ceil(std::log10(lo) - 1e-9)), b = static_cast<int>(std::floor(std::log10(hi) + 1e-9));
    const int step = std::max(1, (b - a + 1 + target - 1) / target);
    for (int e = a; e <= b; e += step) out.push_back(std::pow(10.0, e));
    if (out.empty()) out.push_back(lo);
    return out;
  }
  if (hi == lo) return {lo};
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step)
    out.push_back(std::fabs(v) < 1e-12 * step ? 0.0 : v);
  return out;
}

std::string tick_label(double v) {
  char buf[32];
  const double a = std::fabs(v);
  if (a != 0 && (a >= 1e5 || a < 1e-3)) std::snprintf(buf, sizeof buf, "%.0e", v);
  else if (a >= 10 || v == std::floor(v)) std::snprintf(buf, sizeof buf, "%.0f", v);
  else std::snprintf(buf, sizeof buf, "%.2g", v);
  return buf;
}

std::string color_map(double t) {
  // viridis anchors
  static constexpr std::array<std::array<double, 3>, 9> k = {{{68, 1, 84},
                                                             {71, 44, 122},
                                                             {59, 81, 139},
                                                             {44, 113, 142},
                                                             {33, 144, 141},
                                                             {39, 173, 129},
                                                             {92, 200, 99},
                                                             {170, 220, 50},
                                                             {253, 231, 37}}};
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * (k.size() - 1);
  const size_t i = std::min(static_cast<size_t>(t), k.size() - 2);
  const double f = t - static_cast<double>(i);
  char buf[8];
  int rgb[3];
  for (int c = 0; c < 3; ++c) rgb[c] = static_cast<int>(std::lround(k[i][c] + f * (k[i + 1][c] - k[i][c])));
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return buf;
}

}  // namespace wm::report
