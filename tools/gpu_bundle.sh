#!/usr/bin/env bash
# Builds the CUDA binaries HERE (Debian 12 + CUDA 13) and packs what the GPU machine (Ubuntu 24.04,
# no PCRE2/ICU dev files, other yaml-cpp/ICU sonames) needs to run them into .devcarry/bundle/:
#   bin/      wemask, wemask_tests, bench_model_step (stripped)
#   lib/      every shared library ldd shows except glibc, the GCC runtime (libstdc++, libgcc_s,
#             libgomp: newer and compatible on Ubuntu 24.04), the CUDA driver and the CUDA 13
#             toolkit libraries (cudart, cuBLAS(Lt), cuDNN 9, NCCL 2: present there, same majors)
#   assets/qwen3-tokenizer, data/gsm8k_train.jsonl (when /work/shared/data has it), env.sh
# bin/, assets/ and data/ are then packed into payload.tar.xz (the carry limit is 64 MiB; the
# binaries alone are ~50 MB); tools/gpu_session.sh unpacks it on the GPU machine.
# ICU: only NFC normalisation is used (data/nfc.cpp), whose data is compiled into libicuuc; the
# 30 MB libicudata is replaced by a stub with an empty data table (lib/icudata_stub.c) unless
# WEMASK_BUNDLE_FULL_ICU=1. tools/gpu_session.sh runs the tokenizer tests against it there.
# Usage: tools/gpu_bundle.sh [build dir, default build-cuda]     Then:
#   run(command="bash tools/gpu_session.sh", carry=[".devcarry/bundle"])
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build-cuda}"
BUNDLE=.devcarry/bundle
LIMIT_MIB=64

cmake -S . -B "$BUILD" -G Ninja -DWEMASK_CUDA=ON -DWEMASK_CUDA_ARCHS="${WEMASK_CUDA_ARCHS:-90a}" \
      -DCMAKE_BUILD_TYPE=Release > /dev/null
[ "${WEMASK_BUNDLE_NO_BUILD:-0}" = 1 ] || ninja -C "$BUILD" -j2 wemask wemask_tests bench_model_step

rm -rf "$BUNDLE"
mkdir -p "$BUNDLE/bin" "$BUNDLE/lib" "$BUNDLE/assets" "$BUNDLE/data"
for b in wemask wemask_tests bench_model_step; do strip -o "$BUNDLE/bin/$b" "$BUILD/$b"; done

keep_system='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|librt\.so|libpthread\.so|libstdc\+\+|libgcc_s|libgomp|libcuda\.so|libcudart|libcublas|libcublasLt|libcudnn|libnccl)'
ldd "$BUNDLE"/bin/* | awk '/=>/ {print $1, $3}' | sort -u | while read -r name path; do
  if [[ "$name" =~ $keep_system ]]; then continue; fi
  [ -f "$path" ] || { echo "ldd: $name not found here" >&2; exit 1; }
  if [[ "$name" == libicudata.so.* && "${WEMASK_BUNDLE_FULL_ICU:-0}" != 1 ]]; then
    version="${name#libicudata.so.}"
    gcc -shared -fPIC -O2 -DICU_MAJOR="$version" -Wl,-soname,"$name" -o "$BUNDLE/lib/$name" tools/icudata_stub.c
    echo "lib: $name -> stub ($(stat -c %s "$BUNDLE/lib/$name") bytes)"
    continue
  fi
  cp -L "$path" "$BUNDLE/lib/$name"
  strip --strip-unneeded "$BUNDLE/lib/$name" 2>/dev/null || true
  echo "lib: $name <- $path"
done

cp -r assets/qwen3-tokenizer "$BUNDLE/assets/"
if [ -f /work/shared/data/gsm8k_train.jsonl ]; then cp /work/shared/data/gsm8k_train.jsonl "$BUNDLE/data/"; fi

cat > "$BUNDLE/env.sh" <<'ENV'
# Source me: the bundle's libraries first, then the CUDA 13 toolkit libraries of the machine.
_wemask_bundle="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for _d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$_d" ] && LD_LIBRARY_PATH="$_d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
export LD_LIBRARY_PATH="$_wemask_bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PATH="$_wemask_bundle/bin:$PATH"
unset _d _wemask_bundle
ENV

# The CUDA kernels make each binary ~15 MB: bin/, assets/ and data/ travel as one xz archive
# (about 5x smaller), unpacked by tools/gpu_session.sh; lib/ and env.sh stay plain.
du -b --max-depth=2 "$BUNDLE" | sort -n | tail -8
tar -C "$BUNDLE" -cf - bin assets data | xz -6 -T2 > "$BUNDLE/payload.tar.xz"
rm -rf "$BUNDLE/bin" "$BUNDLE/assets" "$BUNDLE/data"
ls -la "$BUNDLE"
total=$(du -sb "$BUNDLE" | cut -f1)
echo "bundle: $total bytes ($(( total / 1048576 )) MiB; limit ${LIMIT_MIB} MiB for all carried paths)"
[ "$total" -lt $(( LIMIT_MIB * 1048576 )) ] || { echo "bundle too large" >&2; exit 1; }
