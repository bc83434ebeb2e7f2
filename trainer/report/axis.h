// Axis helpers for report figures: value -> pixel scales (linear or log10), tick positions,
// and a perceptually ordered colour map.
#pragma once
#include <string>
#include <vector>

namespace wm::report {

struct Scale {
  double lo = 0.0, hi = 1.0;  // data range (lo > 0 when log)
  double p0 = 0.0, p1 = 1.0;  // pixel range
  bool log = false;
  double operator()(double v) const;  // pixel of v (clamped to the range)
  double unit(double v) const;        // v mapped to [0, 1]
};

// About `target` "nice" ticks (1, 2, 5 x 10^k) inside [lo, hi]; decades for a log scale.
std::vector<double> ticks(double lo, double hi, bool log, int target = 6);
std::string tick_label(double v);

// Viridis-like colour for t in [0, 1] as "#rrggbb".
std::string color_map(double t);

}  // namespace wm::report
