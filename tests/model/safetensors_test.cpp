#include "model/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "kernels/buffer.h"
#include "tests/model/io_test_util.h"

namespace wm {
namespace {

namespace fs = std::filesystem;
using testio::expect_error;
using testio::safetensors_bytes;
using testio::ScratchDir;
using testio::write_file;

// Values exactly representable in every float dtype (multiples of 1/8 in a small range),
// so that a round trip must be bit-exact.
void fill_exact(const Tensor& t, int seed) {
  const auto n = static_cast<size_t>(t.numel());
  for (size_t i = 0; i < n; ++i) {
    double v = static_cast<double>((static_cast<int>(i) * 7 + seed * 13) % 61 - 30) / 8.0;
    switch (t.dtype) {
      case DType::F32: static_cast<float*>(t.data)[i] = static_cast<float>(v); break;
      case DType::F64: static_cast<double*>(t.data)[i] = v; break;
      case DType::BF16: static_cast<bf16*>(t.data)[i] = float_to_bf16(static_cast<float>(v)); break;
      case DType::F16: static_cast<f16*>(t.data)[i] = float_to_f16(static_cast<float>(v)); break;
      case DType::I32: static_cast<int32_t*>(t.data)[i] = static_cast<int32_t>(i * 1000003 + seed); break;
      case DType::I64: static_cast<int64_t*>(t.data)[i] = static_cast<int64_t>(i) * 10000000019LL - seed; break;
    }
  }
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.data, b.data, a.nbytes()) == 0;
}

TEST(Safetensors, RoundTripEachDtype) {
  ScratchDir dir;
  for (DType dt : {DType::F32, DType::F64, DType::BF16, DType::F16}) {
    OwnedTensor a({3, 5}, dt), b({7}, dt), empty({0, 4}, dt), ids({4}, DType::I32), big({2, 2}, DType::I64);
    fill_exact(a, 1);
    fill_exact(b, 2);
    fill_exact(ids, 3);
    fill_exact(big, 4);
    const std::string path = dir.file(std::string("rt_") + dtype_name(dt) + ".safetensors");
    write_safetensors(path, {{"a", a}, {"b", b}, {"empty", empty}, {"ids", ids}, {"big", big}}, dt,
                      {{"format", "pt"}});
    EXPECT_FALSE(fs::exists(path + ".tmp"));

    SafetensorsFile f(path);
    EXPECT_EQ(f.metadata().at("format"), "pt");
    ASSERT_EQ(f.entries().size(), 5u);
    EXPECT_EQ(f.at("a").dtype, dt);
    EXPECT_EQ(f.at("a").shape, (std::vector<int64_t>{3, 5}));
    EXPECT_EQ(f.at("empty").shape, (std::vector<int64_t>{0, 4}));
    EXPECT_EQ(f.at("ids").dtype, DType::I32);  // integer tensors keep their dtype
    EXPECT_EQ(f.at("big").dtype, DType::I64);

    OwnedTensor a2({3, 5}, dt), b2({7}, dt), empty2({0, 4}, dt), ids2({4}, DType::I32), big2({2, 2}, DType::I64);
    f.read_into("a", a2);
    f.read_into("b", b2);
    f.read_into("empty", empty2);
    f.read_into("ids", ids2);
    f.read_into("big", big2);
    EXPECT_TRUE(same_bytes(a, a2)) << dtype_name(dt);
    EXPECT_TRUE(same_bytes(b, b2)) << dtype_name(dt);
    EXPECT_TRUE(same_bytes(ids, ids2));
    EXPECT_TRUE(same_bytes(big, big2));

    // Every float dtype reads into f32 exactly (the values are representable everywhere).
    OwnedTensor a32({15}, DType::F32);
    f.read_into("a", a32);
    OwnedTensor expect32({3, 5}, DType::F32);
    fill_exact(expect32, 1);
    EXPECT_TRUE(same_bytes(a32, expect32)) << dtype_name(dt);
  }
}

TEST(Safetensors, FileLayoutFollowsTheFormat) {
  ScratchDir dir;
  OwnedTensor x({2, 3}, DType::F32), y({5}, DType::F32);
  fill_exact(x, 5);
  fill_exact(y, 6);
  const std::string path = dir.file("layout.safetensors");
  write_safetensors(path, {{"x", x}, {"y", y}}, DType::F32);
  const std::string bytes = testio::read_file(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  ASSERT_LE(8 + n, bytes.size());
  EXPECT_EQ((8 + n) % 8, 0u);  // data section aligned
  auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["x"]["dtype"], "F32");
  EXPECT_EQ(header["x"]["shape"], nlohmann::json::array({2, 3}));
  const uint64_t begin = header["y"]["data_offsets"][0], end = header["y"]["data_offsets"][1];
  EXPECT_EQ(end - begin, 20u);
  EXPECT_EQ(bytes.size(), 8 + n + 24 + 20);
  EXPECT_EQ(std::memcmp(bytes.data() + 8 + n + begin, y.t().data, 20), 0);
}

TEST(Safetensors, Bf16StorageRoundsToNearestEven) {
  ScratchDir dir;
  OwnedTensor x({4}, DType::F32);
  float* v = x.ptr<float>();
  v[0] = 1.0f + std::ldexp(1.0f, -8);                          // halfway 0x3F80/0x3F81 -> even 0x3F80
  v[1] = 1.0f + 3 * std::ldexp(1.0f, -8);                      // halfway 0x3F81/0x3F82 -> even 0x3F82
  v[2] = 1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20);  // above halfway -> 0x3F81
  v[3] = -2.0f;                                                // exact: 0xC000
  const std::string path = dir.file("round.safetensors");
  write_safetensors(path, {{"x", x}}, DType::BF16);
  SafetensorsFile f(path);
  std::vector<char> raw = f.read_bytes(f.at("x"));
  ASSERT_EQ(raw.size(), 8u);
  uint16_t bits[4];
  std::memcpy(bits, raw.data(), 8);
  EXPECT_EQ(bits[0], 0x3F80);
  EXPECT_EQ(bits[1], 0x3F82);
  EXPECT_EQ(bits[2], 0x3F81);
  EXPECT_EQ(bits[3], 0xC000);
  OwnedTensor back({4}, DType::F32);
  f.read_into("x", back);
  EXPECT_EQ(back.ptr<float>()[0], 1.0f);
  EXPECT_EQ(back.ptr<float>()[1], 1.015625f);
  EXPECT_EQ(back.ptr<float>()[2], 1.0078125f);
}

TEST(Safetensors, ShardedRoundTrip) {
  ScratchDir dir;
  std::vector<OwnedTensor> storage;
  NamedTensors tensors;
  for (int i = 0; i < 5; ++i) {
    storage.emplace_back(std::initializer_list<int64_t>{10, 100}, DType::F32);  // 4000 bytes each
    fill_exact(storage.back(), i);
    tensors.push_back({"t" + std::to_string(i), storage.back().t()});
  }
  auto files = write_safetensors_sharded(dir.path().string(), "model", tensors, DType::F32, 9000);
  ASSERT_EQ(files.size(), 4u);  // 3 shards (2 + 2 + 1 tensors) + index
  EXPECT_EQ(files[0], "model-00001-of-00003.safetensors");
  EXPECT_EQ(files[2], "model-00003-of-00003.safetensors");
  EXPECT_EQ(files[3], "model.safetensors.index.json");
  EXPECT_FALSE(fs::exists(dir.file("model.safetensors")));

  auto index = nlohmann::json::parse(testio::read_file(dir.file("model.safetensors.index.json")));
  EXPECT_EQ(index["metadata"]["total_size"], 20000);
  EXPECT_EQ(index["weight_map"]["t0"], "model-00001-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["t3"], "model-00002-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["t4"], "model-00003-of-00003.safetensors");

  SafetensorsSet set = SafetensorsSet::open_folder(dir.path().string());
  EXPECT_EQ(set.files().size(), 3u);
  EXPECT_EQ(set.names().size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const std::string name = "t" + std::to_string(i);
    const SafetensorsFile* f = set.file_of(name);
    ASSERT_NE(f, nullptr) << name;
    OwnedTensor back({10, 100}, DType::F32);
    f->read_into(name, back);
    EXPECT_TRUE(same_bytes(back, storage[i])) << name;
  }
  EXPECT_EQ(set.file_of("nope"), nullptr);
}

TEST(Safetensors, SmallModelsGetOneFileAndNoIndex) {
  ScratchDir dir;
  OwnedTensor x({4}, DType::F32);
  fill_exact(x, 1);
  auto files = write_safetensors_sharded(dir.path().string(), "model", {{"x", x}}, DType::BF16, 1 << 20);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0], "model.safetensors");
  EXPECT_FALSE(fs::exists(dir.file("model.safetensors.index.json")));
  SafetensorsSet set = SafetensorsSet::open_folder(dir.path().string());
  ASSERT_NE(set.file_of("x"), nullptr);
  EXPECT_EQ(set.file_of("x")->at("x").dtype, DType::BF16);
}

TEST(Safetensors, WriterRejectsDuplicateNames) {
  ScratchDir dir;
  OwnedTensor x({4}, DType::F32);
  expect_error([&] { write_safetensors(dir.file("d.safetensors"), {{"x", x}, {"x", x}}, DType::F32); },
               {"d.safetensors", "duplicate tensor name 'x'"});
  EXPECT_FALSE(fs::exists(dir.file("d.safetensors")));
  EXPECT_FALSE(fs::exists(dir.file("d.safetensors.tmp")));
}

// ---- malformed files: every error names the file and the problem

const std::string kGood4 = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";

TEST(SafetensorsBadFile, HeaderLengthPastEndOfFile) {
  ScratchDir dir;
  const std::string path = dir.file("eof.safetensors");
  write_file(path, safetensors_bytes(kGood4, std::string(16, '\0'), 5000));
  expect_error([&] { SafetensorsFile f(path); }, {path, "header length 5000", "past the end of the file"});
}

TEST(SafetensorsBadFile, TooSmallForAHeader) {
  ScratchDir dir;
  const std::string path = dir.file("tiny.safetensors");
  write_file(path, "abc");
  expect_error([&] { SafetensorsFile f(path); }, {path, "too small"});
}

TEST(SafetensorsBadFile, InvalidJson) {
  ScratchDir dir;
  const std::string path = dir.file("json.safetensors");
  write_file(path, safetensors_bytes(R"({"w":{"dtype":"F32",)", std::string(16, '\0')));
  expect_error([&] { SafetensorsFile f(path); }, {path, "invalid JSON"});
}

TEST(SafetensorsBadFile, OffsetsDisagreeWithDtypeAndShape) {
  ScratchDir dir;
  const std::string path = dir.file("lie.safetensors");
  write_file(path, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})",
                                     std::string(16, '\0')));
  expect_error([&] { SafetensorsFile f(path); }, {path, "tensor 'w'", "span 12 bytes", "needs 16"});
}

TEST(SafetensorsBadFile, OffsetsPastTheDataSection) {
  ScratchDir dir;
  const std::string path = dir.file("range.safetensors");
  write_file(path, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[100,116]}})",
                                     std::string(16, '\0')));
  expect_error([&] { SafetensorsFile f(path); }, {path, "tensor 'w'", "past the end of the data section"});
}

TEST(SafetensorsBadFile, TruncatedData) {
  ScratchDir dir;
  OwnedTensor x({64}, DType::F32);
  fill_exact(x, 1);
  const std::string path = dir.file("trunc.safetensors");
  write_safetensors(path, {{"x", x}}, DType::F32);
  fs::resize_file(path, fs::file_size(path) - 10);
  expect_error([&] { SafetensorsFile f(path); }, {path, "tensor 'x'", "truncated"});
}

TEST(SafetensorsBadFile, UnknownDtype) {
  ScratchDir dir;
  const std::string path = dir.file("dtype.safetensors");
  write_file(path, safetensors_bytes(R"({"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}})",
                                     std::string(4, '\0')));
  expect_error([&] { SafetensorsFile f(path); }, {path, "tensor 'w'", "unsupported safetensors dtype 'F8_E4M3'"});
}

TEST(SafetensorsBadFile, OverlappingRanges) {
  ScratchDir dir;
  const std::string path = dir.file("overlap.safetensors");
  write_file(path, safetensors_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                     R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                                     std::string(24, '\0')));
  expect_error([&] { SafetensorsFile f(path); }, {path, "'a'", "'b'", "overlapping"});
}

TEST(SafetensorsBadFile, DuplicateNames) {
  ScratchDir dir;
  const std::string path = dir.file("dup.safetensors");
  write_file(path, safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                     R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                     std::string(8, '\0')));
  expect_error([&] { SafetensorsFile f(path); }, {path, "duplicate tensor name 'a'"});
}

TEST(SafetensorsBadFile, NegativeAndAbsurdShapes) {
  ScratchDir dir;
  const std::string neg = dir.file("neg.safetensors");
  write_file(neg, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,16]}})",
                                    std::string(16, '\0')));
  expect_error([&] { SafetensorsFile f(neg); }, {neg, "tensor 'w'", "negative dimension"});
  const std::string huge = dir.file("huge.safetensors");
  write_file(huge, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})",
                                     std::string(16, '\0')));
  expect_error([&] { SafetensorsFile f(huge); }, {huge, "tensor 'w'", "absurd shape"});
}

TEST(SafetensorsBadFile, MalformedEntries) {
  ScratchDir dir;
  const std::string path = dir.file("entry.safetensors");
  write_file(path, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4]}})", std::string(16, '\0')));
  expect_error([&] { SafetensorsFile f(path); }, {path, "tensor 'w'", "data_offsets"});
  write_file(path, safetensors_bytes(R"([1,2,3])", std::string(16, '\0')));
  expect_error([&] { SafetensorsFile f(path); }, {path, "not a JSON object"});
}

TEST(SafetensorsBadFile, ReadIntoWrongSizeOrDtype) {
  ScratchDir dir;
  OwnedTensor x({2, 3}, DType::F32), ids({3}, DType::I32);
  const std::string path = dir.file("dst.safetensors");
  write_safetensors(path, {{"x", x}, {"ids", ids}}, DType::F32);
  SafetensorsFile f(path);
  OwnedTensor wrong({5}, DType::F32), as_float({3}, DType::F32);
  expect_error([&] { f.read_into("x", wrong); }, {path, "tensor 'x'", "6 elements"});
  expect_error([&] { f.read_into("ids", as_float); }, {path, "tensor 'ids'", "cannot be converted"});
  expect_error([&] { f.read_into("nope", as_float); }, {path, "no tensor named 'nope'"});
}

TEST(SafetensorsBadFile, IndexProblems) {
  ScratchDir dir;
  OwnedTensor x({4}, DType::F32);
  write_safetensors(dir.file("shard1.safetensors"), {{"x", x}}, DType::F32);
  const std::string index = dir.file("model.safetensors.index.json");
  write_file(index, R"({"weight_map": {"x": "shard1.safetensors", "y": "shard2.safetensors"}})");
  expect_error([&] { SafetensorsSet::open_folder(dir.path().string()); }, {index, "shard2.safetensors", "does not exist"});
  write_file(index, R"({"weight_map": {"x": "shard1.safetensors", "y": "shard1.safetensors"}})");
  expect_error([&] { SafetensorsSet::open_folder(dir.path().string()); }, {index, "'y'", "no such tensor"});
  write_file(index, R"({"weights": {}})");
  expect_error([&] { SafetensorsSet::open_folder(dir.path().string()); }, {index, "weight_map"});
  fs::remove(index);
  expect_error([&] { SafetensorsSet::open_folder(dir.path().string()); },
               {dir.path().string(), "no model.safetensors"});
}

}  // namespace
}  // namespace wm
