#!/usr/bin/env bash
# Installs everything Zeppelin needs on a Debian 12 machine, as root, idempotently:
# Debian packages (compilers, libraries, Podman + runc, busybox-static for test images, chromium
# for the dashboard's browser tests, zsh for the completion test) and the npm packages pinned in package-lock.json (anvil, cast,
# forge, solc-js, playwright-core).
# Fast when everything is already there: it only asks apt/npm when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache git pkg-config ca-certificates
  clang libclang-rt-14-dev
  libsecp256k1-dev libcrypto++-dev libssl-dev libboost-dev libsqlite3-dev libzstd-dev
  libarchive-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  podman runc busybox-static uidmap iproute2 procps psmisc curl
  chromium
  zsh  # the CLI test runs `zeppelin completion zsh` in it
  libminiupnpc-dev libnatpmp-dev
  # the network lab (tests/netlab/lab.sh): a home router's miniupnpd, coturn as its STUN server,
  # nftables for the router's NAT, and the reference clients natpmpc/upnpc for trying it by hand
  miniupnpd-nftables coturn nftables natpmpc miniupnpc
)
# Daemons whose Debian packages start (and enable) a system service on install. The lab starts
# its own copies inside network namespaces; one running on the machine itself must not be left.
SERVICES=(miniupnpd coturn)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js and npm: Debian's (Node 18, npm 9) unless a node/npm is already on the machine
# (e.g. a NodeSource build, which conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install packages (run as root, or install: ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # No service starts during the install (invoke-rc.d asks policy-rc.d); ours goes away after.
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# written by zeppelin scripts/setup.sh during apt-get install\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || { [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
  # ...nor at the next boot, and not now if a systemd started it anyway.
  if command -v systemctl >/dev/null 2>&1; then
    for s in "${SERVICES[@]}"; do
      systemctl disable "$s" >/dev/null 2>&1 || true
      if [ -d /run/systemd/system ]; then systemctl stop "$s" >/dev/null 2>&1 || true; fi
    done
  fi
fi

# npm packages, exactly as locked. Re-run only when the lock changed since the last install.
stamp=node_modules/.zeppelin-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x node_modules/.bin/anvil ]; then
  echo "setup: installing npm packages from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
