#!/usr/bin/env bash
# Builds a tiny docker-archive image (the `docker save` format) from the busybox-static package,
# with no network and no engine: one layer holding /bin/busybox (+ a few applet links) and a test
# page in /www; the default command says hello and serves it with `busybox httpd -f -v -p 8080 -h /www`
# (-v: one line per request on stderr, so `zeppelin logs` shows the verifiers' probes).
#
# The output is byte-for-byte reproducible (sorted entries, mtime 0, uid/gid 0, fixed config), so
# the image identity (the config digest) is stable across runs and machines with the same busybox.
#
# Usage: make-test-image.sh OUT.tar [REPO:TAG]    (default tag localhost/zeppelin-test/busybox:latest)
# EXTRA_MB=N adds /data/blob, N MiB of random bytes (a bigger, incompressible image for benchmarks;
# then the image is no longer reproducible).
# Prints the config digest ("sha256:...") on stdout. Load it with `podman load -i OUT.tar`.
set -euo pipefail
OUT="${1:?usage: $0 OUT.tar [REPO:TAG]}"
TAG="${2:-localhost/zeppelin-test/busybox:latest}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
[ -x "$BUSYBOX" ] || { echo "make-test-image: $BUSYBOX not found (apt-get install busybox-static)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/rootfs"
mkdir -p "$ROOT/bin" "$ROOT/www" "$ROOT/tmp" "$ROOT/etc"
cp "$BUSYBOX" "$ROOT/bin/busybox"
chmod 0755 "$ROOT/bin/busybox"
for applet in sh cat dd echo httpd sleep tail; do ln -s busybox "$ROOT/bin/$applet"; done
printf '<html><body><h1>zeppelin test page</h1></body></html>\n' > "$ROOT/www/index.html"
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' > "$ROOT/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$ROOT/etc/group"
chmod 1777 "$ROOT/tmp"
if [ "${EXTRA_MB:-0}" -gt 0 ]; then
  mkdir -p "$ROOT/data"
  head -c "$((EXTRA_MB * 1024 * 1024))" /dev/urandom > "$ROOT/data/blob"
fi

LAYER="$WORK/layer.tar"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=ustar \
    -C "$ROOT" -cf "$LAYER" $(cd "$ROOT" && ls)
DIFF_ID="sha256:$(sha256sum "$LAYER" | cut -d' ' -f1)"

ARCH="$WORK/archive"
mkdir -p "$ARCH"
LAYER_DIR="${DIFF_ID#sha256:}"
mkdir -p "$ARCH/$LAYER_DIR"
mv "$LAYER" "$ARCH/$LAYER_DIR/layer.tar"

# A fixed config (no timestamps that change) so the digest is stable.
printf '{"architecture":"amd64","config":{"Cmd":["/bin/sh","-c","echo zeppelin test server on :8080; exec /bin/busybox httpd -f -v -p 8080 -h /www"],"Env":["PATH=/bin"],"ExposedPorts":{"8080/tcp":{}},"WorkingDir":"/"},"created":"1970-01-01T00:00:00Z","history":[{"created":"1970-01-01T00:00:00Z","created_by":"zeppelin make-test-image"}],"os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}' \
  "$DIFF_ID" > "$ARCH/config.json"
CONFIG_HEX="$(sha256sum "$ARCH/config.json" | cut -d' ' -f1)"
mv "$ARCH/config.json" "$ARCH/$CONFIG_HEX.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' \
  "$CONFIG_HEX" "$TAG" "$LAYER_DIR" > "$ARCH/manifest.json"

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=ustar \
    -C "$ARCH" -cf "$OUT" manifest.json "$CONFIG_HEX.json" "$LAYER_DIR"
echo "sha256:$CONFIG_HEX"
