#!/usr/bin/env bash
# kiln's benchmarks: every figure is a ratio against a reference timed in the same run on the
# same machine (hyperfine, warm caches). Writes a Markdown table to stdout; BENCHMARKS.md
# records the method and a run's figures.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/ensure-go.sh"
cd "$repo_root"
for tool in hyperfine:hyperfine /usr/bin/time:time docker-registry:docker-registry skopeo:skopeo; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tool#*:}" >/dev/null; }
done
cargo build --release --quiet --bin kiln --example layer --example cache_check -p kiln -p kiln-image
kiln="$repo_root/target/release/kiln"
layer="$repo_root/target/release/examples/layer"
cache_check="$repo_root/target/release/examples/cache_check"
work=$(mktemp -d)
registry_pid=""
cleanup() { [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export KILN_CACHE="$work/cache" CGO_ENABLED=0 GOFLAGS=-trimpath
# ko's layer path in Go (tar, compress/gzip BestSpeed, both sha256s): the layer reference.
(cd scripts/bench-fixtures/gzipref && go build -o "$work/gzipref" .)
gzipref="$work/gzipref"

# A registry on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s/registry\nhttp:\n  addr: 127.0.0.1:%s\nlog:\n  level: error\n' "$work" "$port" > "$work/registry.yml"
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 & registry_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
registry="127.0.0.1:$port"

# The app: examples/hello in its own git repository, with a line the edit benchmark rewrites.
app="$work/app"
cp -r examples/hello "$app"
cat > "$app/skaffold.yaml" <<YAML
apiVersion: skaffold/v4beta14
kind: Config
build:
  tagPolicy: {sha256: {}}
  artifacts:
    - image: hello
      ko: {}
YAML
printf '/out/\n/gobin/\n' > "$app/.gitignore"
git -C "$app" init -q && git -C "$app" add -A && git -C "$app" -c user.name=b -c user.email=b@b commit -qm app
# hyperfine prepares with /bin/sh, which has no $RANDOM: count edits in a file instead. The
# edit changes the version the program prints, so every build compiles and links anew.
echo 0 > "$work/edits"
edit="n=\$((\$(cat $work/edits)+1)); echo \$n > $work/edits; sed -i \"s/^var version = .*/var version = \\\"v\$n\\\"/\" $app/main.go"
cd "$app"
run() { # name, then hyperfine arguments
  local name=$1; shift
  hyperfine --style none --warmup 1 --runs "${RUNS:-5}" --export-json "$work/$name.json" "$@" >/dev/null
}
mean() { python3 -c "import json,sys; r=json.load(open('$work/$1.json'))['results']; print(r[$2]['mean'])"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
ms() { python3 -c "print(f'{$1*1000:.0f} ms')"; }
row() { printf '| %s | %s | %s | %s× | %s |\n' "$1" "$(ms "$2")" "$(ms "$3")" "$(ratio "$2" "$3")" "$4"; }

# The registry's own cost: a blob upload by curl (POST, one PATCH with the whole file, PUT),
# the same three requests kiln makes. Usage: upload.sh REPOSITORY FILE DIGEST (the digest is
# computed beforehand, as kiln knows its digests before uploading).
cat > "$work/upload.sh" <<SH
#!/bin/sh
set -e
loc=\$(curl -fsS -o /dev/null -D - -X POST "http://$registry/v2/\$1/blobs/uploads/" | tr -d '\\r' | sed -n 's/^[Ll]ocation: //p')
loc=\$(curl -fsS -o /dev/null -D - -X PATCH -H 'Content-Type: application/octet-stream' -T "\$2" "\$loc" | tr -d '\\r' | sed -n 's/^[Ll]ocation: //p')
case "\$loc" in *\\?*) sep='&';; *) sep='?';; esac
curl -fsS -o /dev/null -X PUT "\$loc\${sep}digest=\$3"
SH
chmod +x "$work/upload.sh"
# The last layer (the binary layer) of the image a layout names.
binary_layer() {
  python3 - "$1" "$2" <<'PY'
import json, sys
root, name = sys.argv[1], sys.argv[2]
blob = lambda d: f"{root}/blobs/sha256/{d.split(':')[1]}"
entry = next(m for m in json.load(open(f"{root}/index.json"))["manifests"]
             if m["annotations"]["org.opencontainers.image.ref.name"] == name)
print(blob(json.load(open(blob(entry["digest"])))["layers"][-1]["digest"]))
PY
}

echo "| benchmark | kiln | reference | ratio | target |"
echo "|---|---|---|---|---|"

# 1. An unchanged build (artifact cache hit) against a no-op `go build` of the same package.
"$kiln" build --push=false --oci-layout-path out --platform linux/amd64 -q >/dev/null
go build -o gobin/hello .
run unchanged "$kiln build --push=false --oci-layout-path out --platform linux/amd64 -q" "go build -o gobin/hello ."
row "unchanged build vs no-op go build" "$(mean unchanged 0)" "$(mean unchanged 1)" "≤ 0.3×"

# 2. A one-line edit to a pushed image, against the go build of the same edit.
run edit --prepare "$edit" "$kiln build --push -d $registry/bench --platform linux/amd64 -q" \
  --prepare "$edit" "go build -o gobin/hello ."
row "one-line edit → pushed image vs go build of the edit" "$(mean edit 0)" "$(mean edit 1)" "≤ 1.10×"

# 2b. The same edit into an OCI layout: kiln's own overhead, without the registry's time.
run editlayout --prepare "$edit" "$kiln build --push=false --oci-layout-path out --platform linux/amd64 -q" \
  --prepare "$edit" "go build -o gobin/hello ."
row "one-line edit → OCI layout vs go build of the edit" "$(mean editlayout 0)" "$(mean editlayout 1)" "(kiln's part of the above)"
layer_file=$(binary_layer "$app/out" hello:latest)
echo 0 > "$work/c"
run curlsmall --prepare "echo \$((\$(cat $work/c)+1)) > $work/c" "$work/upload.sh small\$(cat $work/c)/hello $layer_file sha256:$(basename "$layer_file")"
curl_small=$(mean curlsmall 0)

# 3. Two platforms against the slower platform's go build alone (same edit each run), and
# against both go builds run in parallel by hand: on 2 cores that is the floor.
run platforms --prepare "$edit" "$kiln build --push=false --oci-layout-path out --platform linux/amd64,linux/arm64 -q" \
  --prepare "$edit" "GOARCH=amd64 go build -o gobin/amd64 ." \
  --prepare "$edit" "GOARCH=arm64 go build -o gobin/arm64 ." \
  --prepare "$edit" "sh -c 'GOARCH=amd64 go build -o gobin/amd64 . & GOARCH=arm64 go build -o gobin/arm64 .; wait'"
slower=$(python3 -c "print(max($(mean platforms 1), $(mean platforms 2)))")
row "2-platform build vs slower platform's go build" "$(mean platforms 0)" "$slower" "≤ 1.15×"
row "2-platform build vs both go builds in parallel by hand" "$(mean platforms 0)" "$(mean platforms 3)" "(the floor on this machine)"

# 4. A 100 MB binary layer (real Go binaries, concatenated) against ko's layer path (Go's
# compress/gzip BestSpeed + both sha256s, the gzipref fixture), sha256sum + gzip -1.
goroot=$(go env GOROOT)
find "$goroot/pkg/tool" "$goroot/bin" -type f -print0 | sort -z | xargs -0 cat | head -c 100000000 > "$work/big.bin"
run layer "$layer $work/big.bin" "$gzipref $work/big.bin $work/big.go.gz" \
  "sh -c 'sha256sum $work/big.bin >/dev/null; gzip -1 -c $work/big.bin >/dev/null'" "$layer $work/big.bin zstd"
row "100 MB binary layer (tar+sha256+gzip+sha256) vs ko's (Go compress/gzip BestSpeed)" "$(mean layer 0)" "$(mean layer 1)" "≤ 0.8×"
row "100 MB binary layer, zstd, vs ko's gzip layer" "$(mean layer 3)" "$(mean layer 1)" "report"
row "100 MB binary layer vs sha256sum + gzip -1" "$(mean layer 0)" "$(mean layer 2)" "report"
echo
echo "Throughput on 100 MB: kiln gzip layer $(python3 -c "print(f'{100/$(mean layer 0):.0f}')") MB/s; kiln zstd layer $(python3 -c "print(f'{100/$(mean layer 3):.0f}')") MB/s; ko's path (Go) $(python3 -c "print(f'{100/$(mean layer 1):.0f}')") MB/s."

# 5. Peak RSS of the layer writer as the input grows (it streams: it should stay flat).
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
head -c 10000000 "$work/big.bin" > "$work/small.bin"
echo "Peak RSS of the layer writer: $(rss "$layer" "$work/small.bin") KiB for 10 MB, $(rss "$layer" "$work/big.bin") KiB for 100 MB."

# 6. Pushing a 100 MB image against skopeo copy of the same image to a fresh repository.
big="$work/bigapp"
mkdir -p "$big"
head -c 100000000 /dev/urandom > "$big/blob.bin"
printf 'module example.com/big\n\ngo 1.22\n' > "$big/go.mod"
printf 'package main\n\nimport (\n\t_ "embed"\n\t"fmt"\n)\n\n//go:embed blob.bin\nvar blob []byte\n\nfunc main() { fmt.Println(len(blob)) }\n' > "$big/main.go"
printf 'apiVersion: skaffold/v4beta14\nkind: Config\nbuild:\n  tagPolicy: {sha256: {}}\n  artifacts:\n    - image: big\n      ko: {}\n' > "$big/skaffold.yaml"
cd "$big"
"$kiln" build --push=false --oci-layout-path "$work/biglayout" --platform linux/amd64 -q >/dev/null
echo 0 > "$work/n"
next="echo \$((\$(cat $work/n)+1)) > $work/n"
run push --prepare "$next" "$kiln build --push -d $registry/kiln\$(cat $work/n) --platform linux/amd64 -q" \
  --prepare "$next" "skopeo copy -q --dest-tls-verify=false oci:$work/biglayout:big:latest docker://$registry/skopeo\$(cat $work/n)/big:latest"
# 7. The same push cold: nothing to mount (kiln's memory of blob locations cleared, a fresh
# repository), against curl uploading just the 100 MB layer.
big_layer=$(binary_layer "$work/biglayout" big:latest)
run coldpush --prepare "$next; rm -rf $KILN_CACHE/memo/blobs" "$kiln build --push -d $registry/cold\$(cat $work/n) --platform linux/amd64 -q" \
  --prepare "$next" "$work/upload.sh curl\$(cat $work/n)/big $big_layer sha256:$(basename "$big_layer")"
echo
echo "| benchmark | kiln | reference | ratio | target |"
echo "|---|---|---|---|---|"
row "push a 100 MB image to a fresh repository vs skopeo copy (both mount)" "$(mean push 0)" "$(mean push 1)" "report"
row "push a 100 MB image, nothing mountable, vs curl upload of its 100 MB layer" "$(mean coldpush 0)" "$(mean coldpush 1)" "report"

# 7b. Layer sizes: kiln gzip, kiln zstd, ko's (Go BestSpeed), `gzip -1` (of the binary
# alone: the tar adds 1.5 kB of headers), on the app's binary and the 100 MB input.
sizes() { # label, binary
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$("$layer" "$2" | cut -d' ' -f2)" \
    "$("$layer" "$2" zstd | cut -d' ' -f2)" "$("$gzipref" "$2" "$work/sz.gz" | cut -d' ' -f2)" \
    "$(gzip -1 -c "$2" | wc -c)"
}
size_table() {
  echo
  echo "| layer bytes | kiln gzip | kiln zstd | ko (Go BestSpeed) | gzip -1 |"
  echo "|---|---|---|---|---|"
  sizes "app binary ($(stat -c %s "$app/gobin/hello") B)" "$app/gobin/hello"
  sizes "100 MB of Go binaries" "$work/big.bin"
}
size_table

# 7c. A controller-sized app (client-go + controller-runtime, a ~70 MB binary; fixture in
# scripts/bench-fixtures/controller), its modules fetched through the module proxy once.
ctl="$work/controller"
cp -r "$repo_root/scripts/bench-fixtures/controller" "$ctl"
(cd "$ctl" && GOPROXY=https://proxy.golang.org,direct GOFLAGS=-mod=mod go mod download)
printf 'apiVersion: skaffold/v4beta14\nkind: Config\nbuild:\n  tagPolicy: {sha256: {}}\n  artifacts:\n    - image: controller\n      ko: {}\n' > "$ctl/skaffold.yaml"
printf '/out/\n/gobin/\n' > "$ctl/.gitignore"
git -C "$ctl" init -q && git -C "$ctl" add -A && git -C "$ctl" -c user.name=b -c user.email=b@b commit -qm controller
echo 0 > "$work/cedits"
cedit="n=\$((\$(cat $work/cedits)+1)); echo \$n > $work/cedits; sed -i \"s/^var version = .*/var version = \\\"v\$n\\\"/\" $ctl/main.go"
cd "$ctl"
go build -o gobin/controller .
kbuild="$kiln build --platform linux/amd64 -q"
$kbuild --push=false --oci-layout-path out >/dev/null
echo
echo "Controller binary: $(stat -c %s gobin/controller) bytes."
echo
echo "| controller benchmark | kiln | reference | ratio | target |"
echo "|---|---|---|---|---|"
# Cold: kiln's cache emptied (Go's build cache stays warm, as on a developer machine).
run ccold --prepare "$cedit; rm -rf $KILN_CACHE" "$kbuild --push=false --oci-layout-path out" \
  --prepare "$cedit" "go build -o gobin/controller ."
row "cold build (kiln cache empty) → OCI layout vs go build of the edit" "$(mean ccold 0)" "$(mean ccold 1)" "report"
$kbuild --push=false --oci-layout-path out >/dev/null
run cunchanged "$kbuild --push=false --oci-layout-path out" "go build -o gobin/controller ."
row "unchanged build vs no-op go build" "$(mean cunchanged 0)" "$(mean cunchanged 1)" "≤ 0.3×"
run cedit --prepare "$cedit" "$kbuild --push -d $registry/ctl" --prepare "$cedit" "go build -o gobin/controller ."
$kbuild --push=false --oci-layout-path out >/dev/null
ctl_layer=$(binary_layer "$ctl/out" controller:latest)
echo 0 > "$work/cc"
run ccurl --prepare "echo \$((\$(cat $work/cc)+1)) > $work/cc" "$work/upload.sh ctlcurl\$(cat $work/cc)/c $ctl_layer sha256:$(basename "$ctl_layer")"
floor=$(python3 -c "print($(mean cedit 1) + $(mean ccurl 0))")
row "one-line edit → pushed image vs go build of the edit" "$(mean cedit 0)" "$(mean cedit 1)" "report"
row "one-line edit → pushed image vs its floor (go build + curl upload of the layer)" "$(mean cedit 0)" "$floor" "≤ 1.05×"
run cplatforms --prepare "$cedit" "$kiln build --push=false --oci-layout-path out --platform linux/amd64,linux/arm64 -q" \
  --prepare "$cedit" "sh -c 'GOARCH=amd64 go build -o gobin/amd64 . & GOARCH=arm64 go build -o gobin/arm64 .; wait'"
row "2-platform build vs both go builds in parallel by hand" "$(mean cplatforms 0)" "$(mean cplatforms 1)" "(the floor on this machine)"
run clayer "$layer gobin/controller" "$gzipref gobin/controller $work/ctl.go.gz" "$layer gobin/controller zstd"
row "controller binary layer vs ko's (Go compress/gzip BestSpeed)" "$(mean clayer 0)" "$(mean clayer 1)" "≤ 0.8×"
row "controller binary layer, zstd, vs ko's gzip layer" "$(mean clayer 2)" "$(mean clayer 1)" "report"
sizes "controller binary ($(stat -c %s gobin/controller) B)" gobin/controller | sed 's/^/size row: /'
eval "$cedit"
echo "Peak RSS, one-line edit → OCI layout: kiln $(rss $kbuild --push=false --oci-layout-path out) KiB (go build inside it); go build alone $(eval "$cedit"; rss go build -o gobin/controller .) KiB."
# Memory stays flat: kiln's peak RSS building the 8.5 MB app and the 100 MB image (after
# an edit each, so the binary layer is written), Go's own compile and link included.
cd "$app"; eval "$edit"
small_rss=$(rss $kbuild --push=false --oci-layout-path out)
cd "$big"; echo "// $(date +%s%N)" >> main.go
big_rss=$(rss $kbuild --push=false --oci-layout-path out)
echo "Peak RSS of kiln build → OCI layout: $small_rss KiB for the 8.5 MB app, $big_rss KiB for the 100 MB image."
cd "$app"

# 8. The cache check at the end of a build, on 10k files (a full 10 GiB cache: about five
# files per edit build of the app), against `du -s` of the same directory: after a build that
# wrote something (a walk), and after a cache hit (the last walk's record, a few stats).
python3 - "$work/gc" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
def put(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"x" * size)
name = lambda i: hashlib.sha256(str(i).encode()).hexdigest()
for i in range(6000):
    put(f"{root}/blobs/sha256/{name(i)}", 2000)
for i in range(2000):
    put(f"{root}/layers/{name(i)}.json", 300)
for i in range(1990):
    put(f"{root}/artifacts/{name(i)}.json", 900)
for i in range(6):
    put(f"{root}/memo/{name(i)}.json", 100)
for i in range(4):
    put(f"{root}/bin/{name(i)[:16]}/linux-amd64/out", 9000)
PY
run cachewalk "$cache_check walk $work/gc" "du -s $work/gc"
# A walk is trusted for a minute; make the last one older, so that the check compares the
# directories' modification times with those it recorded.
python3 - "$work/gc/usage.json" <<'PY'
import json, sys
state = json.load(open(sys.argv[1]))
state["walked"] -= 3600
json.dump(state, open(sys.argv[1], "w"))
PY
run cachecheck "$cache_check check $work/gc"
row "end-of-build cache check on 10k files, after a build that wrote (a walk), vs du -s" "$(mean cachewalk 0)" "$(mean cachewalk 1)" "report"
row "end-of-build cache check on 10k files, after a cache hit, vs du -s" "$(mean cachecheck 0)" "$(mean cachewalk 1)" "report"
echo
echo "Registry cost: curl uploads the app's $(( $(stat -c %s "$layer_file") / 1000 )) kB binary layer in $(ms "$curl_small")."

# 9. The artifact cache shared through the registry (remote_cache.rs). Runner A (the app
# above) pushes and records; runner B is a clone at another path with its own KILN_CACHE.
# Every timed command pushes the image under a new tag. Compared: B reusing A's image
# through the registry (its local artifact entries removed before each run; its memos of
# `go list`/`go version` kept, as on a runner that built other commits), B's own local
# cache hit, and full builds of the same image: with Go's build cache warm (a one-line
# edit, compile and link) and on a fresh runner (empty GOCACHE and KILN_CACHE).
bench_remote_cache() {
  local b="$work/app-b" cache_b="$work/cache-b" n="$work/rc-n"
  local push="$kiln build --push -d $registry/rc --platform linux/amd64 -q -t r\$(cat $n)"
  local next="echo \$((\$(cat $n)+1)) > $n"
  echo 0 > "$n"
  git -C "$app" checkout -q -- main.go
  (cd "$app" && "$kiln" build --push -d "$registry/rc" --platform linux/amd64 -q >/dev/null)
  git clone -q "$app" "$b"
  (cd "$b" && KILN_CACHE="$cache_b" "$kiln" build --push -d "$registry/rc" --platform linux/amd64 -q >/dev/null)
  cd "$b"
  run rcremote --prepare "$next; rm -rf $cache_b/artifacts" "KILN_CACHE=$cache_b $push" \
    --prepare "$next" "KILN_CACHE=$cache_b $push"
  run rcbuild --prepare "$next; ${edit//$app/$b}" "KILN_CACHE=$cache_b $push --remote-cache=false"
  RUNS=3 run rccold --prepare "$next; git -C $b checkout -q -- main.go; rm -rf $work/cold" \
    "GOCACHE=$work/cold/go KILN_CACHE=$work/cold/kiln $push --remote-cache=false"
  RUNS=3 run rccoldhit --prepare "$next; rm -rf $work/cold" \
    "GOCACHE=$work/cold/go KILN_CACHE=$work/cold/kiln $push"
  cd "$app"
  row "runner B reuses A's image via the registry vs B's local cache hit" "$(mean rcremote 0)" "$(mean rcremote 1)" "≤ 2×"
  row "runner B reuses A's image via the registry vs a build of a one-line edit" "$(mean rcremote 0)" "$(mean rcbuild 0)" "< 0.1×"
  row "fresh runner (empty caches) reuses via the registry vs builds" "$(mean rccoldhit 0)" "$(mean rccold 0)" "< 0.1×"
}
bench_remote_cache
