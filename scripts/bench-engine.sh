#!/usr/bin/env bash
# Local-engine benchmark (BENCHMARKS.md, "Loading into a local engine"): an unchanged round
# and a one-line edit of examples/hello into podman's Docker API service, kiln's direct load
# (`kiln ko build -L`) against the route kiln used to prescribe (`--tarball`, then
# `docker load -i`), both timed by hyperfine in the same run. Needs podman, hyperfine and a
# docker client; KILN names the binary (default: the release build).
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KILN=${KILN:-$repo_root/target/release/kiln}
W=$(mktemp -d); trap 'kill $PODMAN_PID 2>/dev/null; rm -rf $W' EXIT
mkdir -p $W/conf
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > $W/conf/policy.json
printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "%s/events.log"\n' $W > $W/conf/containers.conf
export CONTAINERS_CONF=$W/conf/containers.conf CONTAINERS_POLICY_JSON=$W/conf/policy.json
podman --root=$W/root --runroot=$W/run --storage-driver=vfs --cgroup-manager=cgroupfs --events-backend=file system service --time=0 unix://$W/p.sock >$W/podman.log 2>&1 &
PODMAN_PID=$!
sleep 2
export DOCKER_HOST=unix://$W/p.sock KILN_CACHE=$W/cache
cp -a "$repo_root/examples/hello" $W/app && cd $W/app && git init -q && git add -A && git -c user.email=a@b -c user.name=b commit -qm x
$KILN ko build -L . >/dev/null 2>&1
$KILN ko build --push=false --tarball $W/app.tar . >/dev/null 2>&1; docker load -i $W/app.tar >/dev/null
# The one-line edit: a new version string, so every edited build compiles and links anew.
cat > $W/edit.sh <<EDIT
#!/usr/bin/env bash
sed -i "s/var version = .*/var version = \"edit-\$RANDOM\$RANDOM\"/" $W/app/main.go
EDIT
chmod +x $W/edit.sh
RUNS=${RUNS:-10}
hyperfine -N -w 1 -r $RUNS \
  -n "kiln ko build -L (unchanged)" "$KILN ko build -L ." \
  -n "kiln --tarball + docker load (unchanged)" "bash -c '$KILN ko build --push=false --tarball $W/app.tar . && docker load -i $W/app.tar'"
hyperfine -N -w 1 -r $RUNS \
  --prepare "$W/edit.sh" \
  -n "edit → kiln ko build -L" "$KILN ko build -L ." \
  -n "edit → kiln --tarball + docker load" "bash -c '$KILN ko build --push=false --tarball $W/app.tar . && docker load -i $W/app.tar'"
