#!/usr/bin/env bash
# Runs kiln's whole test suite on a fresh machine: installs what the tests need (Go, the
# CNCF registry, skopeo, umoci, htpasswd, script for a pseudo-terminal, the SPDX
# validator, podman as the Docker API engine with socat for its TLS front and a docker
# client as the reader, pinned kustomize, helm 3 and helm 4), then the checks and tests CI runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/ensure-go.sh"
source "$(dirname "${BASH_SOURCE[0]}")/ensure-spdx-tools.sh"
source "$(dirname "${BASH_SOURCE[0]}")/ensure-deploy-tools.sh"
cd "$repo_root"
need=()
for tool in docker-registry:docker-registry skopeo:skopeo umoci:umoci htpasswd:apache2-utils openssl:openssl script:bsdutils podman:podman socat:socat docker:docker.io; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "kiln: installing ${need[*]}" >&2
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The layer digest depends on the compressor: flate2 must use zlib-rs and nothing else.
if cargo tree -e features -i flate2 | grep -qE 'flate2 feature "(zlib|zlib-ng|zlib-ng-compat|miniz_oxide)"'; then
  echo "flate2 has a backend other than zlib-rs enabled; layer digests would change" >&2
  exit 1
fi
cargo nextest run --workspace --profile ci
# A brief fuzz of the parsers of untrusted input (10 s per target; longer by hand:
# scripts/fuzz.sh 600 manifest).
"$repo_root/scripts/fuzz.sh" 10
