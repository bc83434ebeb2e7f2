#include "kernels/cuda/cudnn_desc.h"

#include <stdexcept>
#include <string>

#include "kernels/cuda/cudnn_check.h"

namespace wm::cuda {

std::string cudnn_last_error() {
  char msg[1024] = {0};
  cudnnGetLastErrorString(msg, sizeof(msg));
  return std::string(msg);
}

std::string cudnn_error_text(cudnnStatus_t st, const char* expr) {
  std::string s = std::string(expr) + " failed: " + cudnnGetErrorString(st);
  const std::string last = cudnn_last_error();
  if (!last.empty()) s += " (last error: " + last + ")";
  return s;
}

void throw_cudnn_error(cudnnStatus_t st, const char* expr, const char* file, int line) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + cudnn_error_text(st, expr) +
                           " [set CUDNN_LOGERR_DBG=1 CUDNN_LOGDEST_DBG=stderr for cuDNN's own trace]");
}

namespace {

[[noreturn]] void fail_attr(cudnnStatus_t st, const char* what, cudnnBackendDescriptorType_t type, int64_t attr) {
  const std::string expr = std::string(what) + "(descriptor type " + std::to_string(int(type)) + ", attribute " +
                           std::to_string(attr) + ")";
  throw std::runtime_error(cudnn_error_text(st, expr.c_str()) +
                           " [set CUDNN_LOGERR_DBG=1 CUDNN_LOGDEST_DBG=stderr for cuDNN's own trace]");
}

}  // namespace

BackendDesc::BackendDesc(cudnnBackendDescriptorType_t type) : type_(type) {
  const cudnnStatus_t st = cudnnBackendCreateDescriptor(type, &desc_);
  if (st != CUDNN_STATUS_SUCCESS) fail_attr(st, "cudnnBackendCreateDescriptor", type, -1);
}

BackendDesc::~BackendDesc() {
  if (desc_) cudnnBackendDestroyDescriptor(desc_);
}

BackendDesc& BackendDesc::operator=(BackendDesc&& o) noexcept {
  if (this != &o) {
    if (desc_) cudnnBackendDestroyDescriptor(desc_);
    desc_ = o.desc_;
    type_ = o.type_;
    o.desc_ = nullptr;
  }
  return *this;
}

BackendDesc& BackendDesc::set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count,
                              const void* values) {
  const cudnnStatus_t st = cudnnBackendSetAttribute(desc_, name, type, count, values);
  if (st != CUDNN_STATUS_SUCCESS) fail_attr(st, "cudnnBackendSetAttribute", type_, int64_t(name));
  return *this;
}

BackendDesc& BackendDesc::set_i64(cudnnBackendAttributeName_t name, int64_t v) {
  return set(name, CUDNN_TYPE_INT64, 1, &v);
}

BackendDesc& BackendDesc::set_i64s(cudnnBackendAttributeName_t name, std::span<const int64_t> v) {
  return set(name, CUDNN_TYPE_INT64, int64_t(v.size()), v.data());
}

BackendDesc& BackendDesc::set_bool(cudnnBackendAttributeName_t name, bool v) {
  return set(name, CUDNN_TYPE_BOOLEAN, 1, &v);
}

BackendDesc& BackendDesc::set_dtype(cudnnBackendAttributeName_t name, cudnnDataType_t v) {
  return set(name, CUDNN_TYPE_DATA_TYPE, 1, &v);
}

BackendDesc& BackendDesc::set_desc(cudnnBackendAttributeName_t name, const BackendDesc& d) {
  cudnnBackendDescriptor_t raw = d.get();
  return set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &raw);
}

BackendDesc& BackendDesc::set_descs(cudnnBackendAttributeName_t name, std::span<const cudnnBackendDescriptor_t> ds) {
  return set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, int64_t(ds.size()), ds.data());
}

void BackendDesc::finalize() {
  const cudnnStatus_t st = cudnnBackendFinalize(desc_);
  if (st != CUDNN_STATUS_SUCCESS) fail_attr(st, "cudnnBackendFinalize", type_, -1);
}

cudnnStatus_t BackendDesc::try_finalize() noexcept { return cudnnBackendFinalize(desc_); }

}  // namespace wm::cuda
