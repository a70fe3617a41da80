# Sourced by scripts/test.sh: installs PyPI's `spdx-tools` (the SPDX project's own
# validator) into .venv/spdx-tools at the repo root, and exports KILN_PYSPDXTOOLS, which the
# SBOM tests run to validate kiln's documents with code that shares nothing with kiln.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
spdx_venv="$repo_root/.venv/spdx-tools"
if [ ! -x "$spdx_venv/bin/pyspdxtools" ]; then
  echo "kiln: installing spdx-tools from PyPI into $spdx_venv" >&2
  if ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    # Debian splits `venv` out of python3.
    sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-venv >/dev/null
  fi
  python3 -m venv "$spdx_venv"
  "$spdx_venv/bin/pip" install --quiet --disable-pip-version-check "spdx-tools>=0.8,<0.9"
fi
export KILN_PYSPDXTOOLS="$spdx_venv/bin/pyspdxtools"
