#include "kernels/cpu/cpu_backend.h"

namespace wm::cpu {

Backend& cpu_backend() {
  static CpuBackend instance;
  return instance;
}

}  // namespace wm::cpu
