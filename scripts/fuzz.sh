#!/usr/bin/env bash
# Runs kiln's cargo-fuzz targets (fuzz/fuzz_targets) over the committed corpus (fuzz/corpus).
#
#   scripts/fuzz.sh                  # every target, 10 s each (what CI runs)
#   scripts/fuzz.sh 600 manifest     # one target for ten minutes, by hand
#
# Only stable Rust is assumed: cargo-fuzz's instrumentation flags are unlocked with
# RUSTC_BOOTSTRAP=1, and no sanitizer is used (the code is safe Rust; these targets look for
# panics, hangs and memory blow-ups, which libFuzzer catches without one). FUZZ_RELEASE=1
# builds optimised (slower to build, faster to fuzz: use it for long runs). Findings land in
# fuzz/artifacts/<target>/; new corpus entries go to a temporary copy, never the repository.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs="${1:-10}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(skaffold_yaml ko_yaml manifest www_authenticate)
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
profile=(--dev)
[ "${FUZZ_RELEASE:-0}" = 1 ] && profile=()
export RUSTC_BOOTSTRAP=1
cargo fuzz build "${profile[@]}" --sanitizer none
for target in "${targets[@]}"; do
  work="$(mktemp -d)"
  cp -r "fuzz/corpus/$target/." "$work/"
  echo "fuzz: $target for ${secs}s" >&2
  cargo fuzz run "${profile[@]}" --sanitizer none "$target" "$work" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1
  rm -rf "$work"
done
