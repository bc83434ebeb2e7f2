// RAII owner of one cuDNN backend descriptor (cudnnBackendDescriptor_t) with checked attribute
// setters: every failure throws std::runtime_error naming the descriptor type, the attribute and
// cuDNN's status and last error message.
#pragma once
#include <cudnn_graph.h>

#include <cstdint>
#include <span>

namespace wm::cuda {

class BackendDesc {
 public:
  explicit BackendDesc(cudnnBackendDescriptorType_t type);
  ~BackendDesc();
  BackendDesc(BackendDesc&& o) noexcept : desc_(o.desc_), type_(o.type_) { o.desc_ = nullptr; }
  BackendDesc& operator=(BackendDesc&& o) noexcept;
  BackendDesc(const BackendDesc&) = delete;
  BackendDesc& operator=(const BackendDesc&) = delete;

  cudnnBackendDescriptor_t get() const { return desc_; }
  cudnnBackendDescriptorType_t type() const { return type_; }

  // Raw checked cudnnBackendSetAttribute.
  BackendDesc& set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, int64_t count,
                   const void* values);
  BackendDesc& set_i64(cudnnBackendAttributeName_t name, int64_t v);
  BackendDesc& set_i64s(cudnnBackendAttributeName_t name, std::span<const int64_t> v);
  BackendDesc& set_bool(cudnnBackendAttributeName_t name, bool v);
  BackendDesc& set_dtype(cudnnBackendAttributeName_t name, cudnnDataType_t v);
  BackendDesc& set_desc(cudnnBackendAttributeName_t name, const BackendDesc& d);
  BackendDesc& set_descs(cudnnBackendAttributeName_t name, std::span<const cudnnBackendDescriptor_t> ds);

  // Checked cudnnBackendFinalize (throws) and the non-throwing variant (returns the status).
  void finalize();
  cudnnStatus_t try_finalize() noexcept;

 private:
  cudnnBackendDescriptor_t desc_ = nullptr;
  cudnnBackendDescriptorType_t type_;
};

}  // namespace wm::cuda
