# Sourced by scripts/test.sh: installs pinned kustomize and helm (the real tools kiln's
# render and deploy tests run) with `go install` into .tools/bin at the repo root, and puts
# that folder first on PATH; helm 4 (whose post-renderers are plugins) goes to
# .tools/helm4 for the tests that run it. Idempotent: a tool already there at its pinned
# version is kept.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_bin="$repo_root/.tools/bin"
install_go_tool() { # DIR NAME VERSION PACKAGE
  local dir=$1 name=$2 version=$3 package=$4 stamp="$1/.$2.version"
  mkdir -p "$dir"
  if [ -x "$dir/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    return
  fi
  echo "kiln: installing $name $version (go install $package@$version) into $dir" >&2
  # The user's GOFLAGS (say -mod=vendor) must not reach an install of another module.
  GOFLAGS= GOBIN="$dir" go install "$package@$version"
  echo "$version" >"$stamp"
}
install_go_tool "$tools_bin" kustomize v5.8.1 sigs.k8s.io/kustomize/kustomize/v5
install_go_tool "$tools_bin" helm v3.21.4 helm.sh/helm/v3/cmd/helm
install_go_tool "$repo_root/.tools/helm4" helm v4.3.2 helm.sh/helm/v4/cmd/helm
export PATH="$tools_bin:$PATH"
