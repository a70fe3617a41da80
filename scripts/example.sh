#!/usr/bin/env bash
# Builds the bundled example (examples/hello) into an OCI image layout and shows it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/ensure-go.sh"
cd "$repo_root"
cargo build --release --quiet --bin kiln
out="$repo_root/out/hello"
cd examples/hello
"$repo_root/target/release/kiln" build --push=false --oci-layout-path "$out" --platform linux/amd64,linux/arm64
echo
echo "OCI layout written to $out; its index.json:"
python3 -m json.tool "$out/index.json"
