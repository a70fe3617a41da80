# Sourced by scripts/test.sh: installs pinned kustomize and helm (the real tools kiln's
# render and deploy tests run) with `go install` into .tools/bin at the repo root, and puts
# that folder first on PATH. Idempotent: a tool already there at its pinned version is kept.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_bin="$repo_root/.tools/bin"
mkdir -p "$tools_bin"
install_go_tool() { # NAME VERSION PACKAGE
  local name=$1 version=$2 package=$3 stamp="$tools_bin/.$1.version"
  if [ -x "$tools_bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    return
  fi
  echo "kiln: installing $name $version (go install $package@$version) into $tools_bin" >&2
  # The user's GOFLAGS (say -mod=vendor) must not reach an install of another module.
  GOFLAGS= GOBIN="$tools_bin" go install "$package@$version"
  echo "$version" >"$stamp"
}
install_go_tool kustomize v5.8.1 sigs.k8s.io/kustomize/kustomize/v5
install_go_tool helm v3.21.4 helm.sh/helm/v3/cmd/helm
export PATH="$tools_bin:$PATH"
