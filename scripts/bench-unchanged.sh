#!/usr/bin/env bash
# The unchanged-build row of scripts/bench.sh (section 1 for the app, 7c for the controller),
# and (app only) its one-line-edit row into an OCI layout, for two kiln binaries timed in
# the same hyperfine run: KILN_BEFORE and KILN_AFTER (e.g.
# builds of two commits), each against the no-op `go build` of the same package. Each
# binary has its own warm KILN_CACHE; Go's caches are shared. BENCHMARKS.md records a run.
# Usage: KILN_BEFORE=... KILN_AFTER=... [RUNS=20] scripts/bench-unchanged.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/ensure-go.sh"
command -v hyperfine >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
: "${KILN_BEFORE:?a kiln binary}" "${KILN_AFTER:?a kiln binary}"
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS="-trimpath -modcacherw" GOMODCACHE="$work/gomod"

# app: examples/hello; controller: scripts/bench-fixtures/controller (modules via the proxy).
setup() { # name, source dir
  local dir="$work/$1"
  cp -r "$2" "$dir"
  printf 'apiVersion: skaffold/v4beta14\nkind: Config\nbuild:\n  tagPolicy: {sha256: {}}\n  artifacts:\n    - image: %s\n      ko: {}\n' "$1" > "$dir/skaffold.yaml"
  printf '/out/\n/gobin/\n' > "$dir/.gitignore"
  git -C "$dir" init -q && git -C "$dir" add -A && git -C "$dir" -c user.name=b -c user.email=b@b commit -qm "$1"
  (cd "$dir" && go build -o gobin/app .)
}
setup app "$repo_root/examples/hello"
setup controller "$repo_root/scripts/bench-fixtures/controller"

for name in app controller; do
  cd "$work/$name"
  build="build --push=false --oci-layout-path out --platform linux/amd64 -q"
  # Warm each binary's own cache (its first build writes the entry).
  KILN_CACHE="$work/cache-before" "$KILN_BEFORE" $build >/dev/null
  KILN_CACHE="$work/cache-after" "$KILN_AFTER" $build >/dev/null
  echo "## $name"
  hyperfine --style basic --warmup 2 --runs "${RUNS:-20}" -N \
    -n before "env KILN_CACHE=$work/cache-before $KILN_BEFORE $build" \
    -n after "env KILN_CACHE=$work/cache-after $KILN_AFTER $build" \
    -n "go build (no-op)" "go build -o gobin/app ."
done

# One-line edit of the app → OCI layout: the key lists the graph again after an edit.
cd "$work/app"
echo 0 > "$work/edits"
edit="n=\$((\$(cat $work/edits)+1)); echo \$n > $work/edits; sed -i \"s/^var version = .*/var version = \\\"v\$n\\\"/\" $work/app/main.go"
echo "## app, one-line edit"
hyperfine --style basic --warmup 1 --runs "${EDIT_RUNS:-10}" \
  --prepare "$edit" -n before "KILN_CACHE=$work/cache-before $KILN_BEFORE $build" \
  --prepare "$edit" -n after "KILN_CACHE=$work/cache-after $KILN_AFTER $build" \
  --prepare "$edit" -n "go build" "go build -o gobin/app ."

# The same two rows with the binaries alternating run by run (hyperfine runs one command's
# runs, then the other's, so a machine whose load moves favours one): median, mean, min.
alternate() { # label, pairs, then 1 to edit before each build
  python3 - "$1" "$2" "$3" "$KILN_BEFORE" "$KILN_AFTER" "$work" $build <<'PY'
import os, statistics, subprocess, sys, time
label, pairs, edit, before, after, work, build = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7:]
times, n = {before: [], after: []}, 0
for i in range(pairs):
    for kiln in ([before, after] if i % 2 == 0 else [after, before]):
        if edit:
            n += 1
            subprocess.run(["sed", "-i", f's/^var version = .*/var version = "alt{n}"/', "main.go"], check=True)
        env = dict(os.environ, KILN_CACHE=f"{work}/cache-{'before' if kiln == before else 'after'}")
        start = time.time()
        subprocess.run([kiln, *build], env=env, check=True, stdout=subprocess.DEVNULL)
        times[kiln].append(time.time() - start)
for name, kiln in (("before", before), ("after", after)):
    t = times[kiln]
    print(f"{label} {name}: median {1000*statistics.median(t):.1f} ms, mean {1000*statistics.mean(t):.1f} ms, min {1000*min(t):.1f} ms")
PY
}
echo "## alternating"
alternate "app, unchanged" "${RUNS:-20}" 0
alternate "app, one-line edit" "${EDIT_RUNS:-10}" 1
