#!/usr/bin/env bash
# The lab itself, with the reference clients: a container on the home worker's own engine,
# published on its port, reached from the public client through a NAT-PMP mapping (natpmpc) and
# a UPnP one (upnpc); unreachable without one; and nothing left behind after `down`.
# Exit 77 (CTest SKIP_RETURN_CODE) when not root. upnpc needs -i: miniupnpc 2.2.4 calls the lab
# router "not connected" (see README.md).
set -euo pipefail
cd "$(dirname "$0")"
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: the network lab needs root"; exit 77; fi

export ZPL_PREFIX=zplu- ZPL_RUN_DIR=/tmp/zplu-lab
LAB="bash ./lab.sh"
trap '$LAB down >/dev/null 2>&1 || true' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

$LAB up
$LAB up | grep -q "already up" || fail "a second up rebuilt the lab"
eval "$($LAB engine home)"
[ -S "${ZEPPELIN_DOCKER_HOST#unix://}" ] || fail "no engine socket"

# A busybox httpd image, built here (busybox-static comes with scripts/setup.sh).
img=$ZPL_RUN_DIR/img
mkdir -p "$img/bin" "$img/www"
cp "$(command -v busybox)" "$img/bin/busybox"
ln -sf busybox "$img/bin/httpd"
echo "served-by-home" > "$img/www/index.html"
tar -C "$img" -cf "$ZPL_RUN_DIR/img.tar" .
r=$ZPL_RUN_DIR/engine-home
podman_home() {
  nsenter --net="/run/netns/${ZPL_PREFIX}home" podman --root "$r/root" --runroot "$r/runroot" --runtime runc \
    --cgroup-manager cgroupfs --events-backend file "$@"
}
podman_home import "$ZPL_RUN_DIR/img.tar" localhost/zplu-httpd:1 >/dev/null
podman_home run -d -p 8080:8080 --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  localhost/zplu-httpd:1 /bin/httpd -f -p 8080 -h /www >/dev/null
for _ in $(seq 50); do $LAB exec home curl -sf -m 1 http://192.168.77.10:8080/ >/dev/null && break; sleep 0.1; done
[ "$($LAB exec home curl -sf -m 2 http://192.168.77.10:8080/)" = served-by-home ] || fail "the container does not serve on the home host"

from_client() { $LAB exec client curl -sf -m 2 http://198.51.100.1:8080/ || true; }
[ -z "$(from_client)" ] || fail "reached the home worker without a mapping"

$LAB exec home natpmpc -a 8080 8080 tcp 60 | grep -q "Mapped public port 8080" || fail "natpmpc could not map"
[ "$(from_client)" = served-by-home ] || fail "not reachable through the NAT-PMP mapping"
$LAB exec home natpmpc -a 8080 0 tcp 0 >/dev/null
[ -z "$(from_client)" ] || fail "still reachable after the NAT-PMP mapping was removed"

$LAB exec home upnpc -i -e zplu-test -a 192.168.77.10 8080 8080 TCP 60 >/dev/null
[ "$(from_client)" = served-by-home ] || fail "not reachable through the UPnP mapping"
$LAB exec home upnpc -i -d 8080 TCP >/dev/null
[ -z "$(from_client)" ] || fail "still reachable after the UPnP mapping was removed"

# A partition: the router's uplink cut and healed.
$LAB exec home natpmpc -a 8080 8080 tcp 60 >/dev/null
$LAB cut home
[ -z "$(from_client)" ] || fail "reachable through a cut uplink"
$LAB heal home
for _ in $(seq 30); do [ -n "$(from_client)" ] && break; sleep 0.1; done
[ "$(from_client)" = served-by-home ] || fail "not reachable after the uplink came back"

$LAB down
trap - EXIT
! ip netns list | grep -q "^$ZPL_PREFIX" || fail "namespaces left after down"
! findmnt -rn -o TARGET | grep -q "^$ZPL_RUN_DIR" || fail "mounts left after down"
[ ! -e "$ZPL_RUN_DIR" ] || fail "$ZPL_RUN_DIR left after down"
echo "lab_test: all checks passed"
