#!/usr/bin/env bash
# A network lab of Linux network namespaces: hosts on a "public" segment and a worker behind a
# home NAT router that runs miniupnpd (UPnP IGD + NAT-PMP/PCP), so that tests exercise the paths
# real parties take across the internet. Needs root. Everything lives inside namespaces this
# script creates (names start with $ZPL_PREFIX, default "zpl-"); nothing is attached to the
# machine's own network namespace, so no packet can leave the lab.
#
#   lab.sh up [--router MODE]   build the lab (idempotent: a lab already up in MODE is kept)
#   lab.sh down                 stop every process inside the lab's namespaces, delete them
#   lab.sh status               hosts, addresses, services
#   lab.sh exec HOST CMD...     run CMD on HOST (ip netns exec)
#   lab.sh router MODE          restart the router's miniupnpd in MODE
#   lab.sh cut HOST | heal HOST take HOST's uplink down / up (a partition)
#   lab.sh addr HOST            print HOST's address (for scripts; "router": its WAN address now)
#   lab.sh wan ADDR             give the router another WAN address on the public segment (a new
#                               DHCP lease of a home router); waits until miniupnpd has checked it
#   lab.sh engine HOST          start a container engine on HOST (Podman's Docker API service with
#                               its own storage); prints `export ZEPPELIN_DOCKER_HOST=unix://...`.
#                               Published ports then live on HOST's address. Stopped by `down`.
#
# MODE: "upnp+natpmp" (default), "upnp", "natpmp" (NAT-PMP and PCP only), "none" (no miniupnpd:
# a router that maps nothing).
#
# Topology (addresses exist only inside the lab):
#   public segment 198.51.100.0/24 (RFC 5737 TEST-NET-2, a documentation range), a bridge in the
#   namespace ${ZPL_PREFIX}sw:
#     chain .10   client .20   verifier1 .31   verifier2 .32   verifier3 .33   worker .40 (a worker on
#     its own host)
#     stun .100 + .101 (coturn, STUN only, two addresses so that RFC 5780 change requests work)
#     router WAN .1
#   home LAN 192.168.77.0/24, a direct link router (.1) <-> home (.10, the worker behind NAT)
#
# Why STUN: Debian 12's miniupnpd 2.3.1 refuses to map while its WAN address is reserved/private
# ("Port forwarding is impossible"). With ext_perform_stun it asks a STUN server (four binding
# requests with change-IP/change-port) and enables forwarding when all answers show no address
# change ("unrestricted full-cone NAT 1:1"). See ../shared/NETLAB.md.
#
# Files: $ZPL_RUN_DIR (default /tmp/${ZPL_PREFIX}lab): miniupnpd.conf, router.nft, *.log, mode.
set -euo pipefail

P="${ZPL_PREFIX:-zpl-}"
RUN="${ZPL_RUN_DIR:-/tmp/${P}lab}"
SW="${P}sw"
ROUTER="${P}router"
HOSTS=(chain client verifier1 verifier2 verifier3 worker stun home)

PUB_NET=198.51.100
PUB_LEN=24
ROUTER_WAN=$PUB_NET.1
STUN1=$PUB_NET.100
STUN2=$PUB_NET.101
LAN_NET=192.168.77
ROUTER_LAN=$LAN_NET.1
HOME_IP=$LAN_NET.10
UPNP_HTTP_PORT=5000

declare -A PUB_IP=([chain]=$PUB_NET.10 [client]=$PUB_NET.20 [verifier1]=$PUB_NET.31
                   [verifier2]=$PUB_NET.32 [verifier3]=$PUB_NET.33 [worker]=$PUB_NET.40 [stun]=$STUN1 [router]=$ROUTER_WAN)

die() { echo "lab: $*" >&2; exit 1; }
ns() { echo "${P}$1"; }
in_ns() { local n=$1; shift; ip netns exec "$n" "$@"; }
ns_exists() { [ -e "/run/netns/$1" ]; }
all_ns() { echo "$SW" "$ROUTER"; for h in "${HOSTS[@]}"; do ns "$h"; done; }

need_root() { [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"; }
need_tools() {
  local missing=()
  for t in ip nft miniupnpd turnserver; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: run scripts/setup.sh"
}

# Waits (bounded) until FILE contains PATTERN; returns 1 on timeout.
wait_for_log() {
  local file=$1 pattern=$2 tries=$3
  for _ in $(seq "$tries"); do
    grep -q -- "$pattern" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Kills every process inside namespace $1 (only those: `ip netns pids` lists them by id).
kill_ns_pids() {
  local n=$1 pids
  ns_exists "$n" || return 0
  pids=$(ip netns pids "$n" 2>/dev/null || true)
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill $pids 2>/dev/null || true
  for _ in $(seq 30); do
    pids=$(ip netns pids "$n" 2>/dev/null || true)
    [ -n "$pids" ] || return 0
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -9 $pids 2>/dev/null || true
}

# Starts Podman's API service inside HOST's network namespace. nsenter, not `ip netns exec`:
# the latter mounts a fresh /sys, which hides the cgroup mounts runc needs.
cmd_engine() {
  need_root
  local h=${1:?engine needs a host} n r sock
  n=$(host_ns "$h")
  ns_exists "$n" || die "the lab is not up"
  command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 || die "podman/runc missing: run scripts/setup.sh"
  r="$RUN/engine-$h"
  sock="$r/podman.sock"
  mkdir -p "$r"
  if ! curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
    rm -f "$sock"
    (cd "$r" && exec nsenter --net="/run/netns/$n" setsid podman --root "$r/root" --runroot "$r/runroot" \
       --runtime runc --cgroup-manager cgroupfs --events-backend file \
       system service --time=0 "unix://$sock" >"$r/podman.log" 2>&1 </dev/null) &
    for _ in $(seq 300); do  # up to 30 s on a loaded 2-core machine
      curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 || die "podman on $h did not start; see $r/podman.log"
  fi
  echo "export ZEPPELIN_DOCKER_HOST=unix://$sock"
}

# Containers run in network namespaces of their own, which `ip netns pids` of the host does not
# list: remove them through the engine, then unmount what its storage left mounted.
stop_engines() {
  local r h
  for r in "$RUN"/engine-*; do
    [ -d "$r" ] || continue
    h=${r##*/engine-}
    if ns_exists "${P}$h"; then
      nsenter --net="/run/netns/${P}$h" podman --root "$r/root" --runroot "$r/runroot" --runtime runc \
        --cgroup-manager cgroupfs --events-backend file rm -af -t 0 >/dev/null 2>&1 || true
    fi
  done
  if [ -d "$RUN" ]; then
    local mounts
    mounts=$(findmnt -rn -o TARGET | grep "^$RUN/" | sort -r || true)
    for m in $mounts; do umount -l "$m" 2>/dev/null || true; done
  fi
}

cmd_down() {
  need_root
  stop_engines
  for n in $(all_ns); do kill_ns_pids "$n"; done
  for n in $(all_ns); do
    if ns_exists "$n"; then ip netns del "$n" 2>/dev/null || true; fi
  done
  rm -rf "$RUN"
  echo "lab: down"
}

# Connects host $1 (namespace already made) to the public bridge, address $2.
plug_public() {
  local host=$1 ip=$2 dev=${3:-eth0}
  local n; n=$(ns "$host")
  ip -n "$SW" link add "p-$host" type veth peer name "$dev" netns "$n"
  ip -n "$SW" link set "p-$host" master br0 up
  ip -n "$n" addr add "$ip/$PUB_LEN" dev "$dev"
  ip -n "$n" link set "$dev" up
}

write_router_nft() {
  cat > "$RUN/router.nft" <<EOF
# The home router's firewall: masquerade the LAN, drop unsolicited inbound, let miniupnpd add
# its DNAT rules in its own chains (named in miniupnpd.conf).
table inet zpl_router {
  chain input {
    type filter hook input priority 0; policy drop;
    iif "lo" accept
    ct state established,related accept
    iifname "lan0" accept
    # STUN answers to miniupnpd, including the change-IP/change-port ones (RFC 5780), which
    # conntrack does not see as replies.
    iifname "wan0" ip saddr { $STUN1, $STUN2 } udp sport 3478-3479 accept
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan0" oifname "wan0" accept
    # connections miniupnpd's DNAT rules forward to the LAN
    iifname "wan0" oifname "lan0" ct status dnat accept
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    jump postrouting_miniupnpd
    oifname "wan0" masquerade
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
}
EOF
}

write_miniupnpd_conf() {
  local mode=$1 upnp=yes natpmp=yes
  case "$mode" in
    upnp+natpmp) ;;
    upnp) natpmp=no ;;
    natpmp) upnp=no ;;
    *) die "unknown router mode $mode" ;;
  esac
  cat > "$RUN/miniupnpd.conf" <<EOF
# written by tests/netlab/lab.sh (mode $mode)
ext_ifname=wan0
listening_ip=lan0
http_port=$UPNP_HTTP_PORT
ipv6_disable=yes
enable_upnp=$upnp
enable_natpmp=$natpmp
ext_perform_stun=yes
ext_stun_host=$STUN1
ext_stun_port=3478
upnp_table_name=zpl_router
upnp_nat_table_name=zpl_router
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
secure_mode=yes
system_uptime=yes
notify_interval=30
clean_ruleset_interval=600
uuid=5a9f3c2e-7b1d-4e8a-9c0f-2d6b8e4a1f37
friendly_name=Zeppelin lab router
min_lifetime=10
max_lifetime=86400
allow 1024-65535 $LAN_NET.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
}

start_miniupnpd() {
  local mode=$1
  echo "$mode" > "$RUN/mode"
  [ "$mode" = none ] && return 0
  write_miniupnpd_conf "$mode"
  : > "$RUN/miniupnpd.log"
  # ip netns exec, not the in_ns function: $! must be miniupnpd's own pid (ip and setsid exec it).
  ip netns exec "$ROUTER" setsid miniupnpd -f "$RUN/miniupnpd.conf" -d -P "$RUN/miniupnpd.pid" \
    </dev/null >>"$RUN/miniupnpd.log" 2>&1 &
  echo $! > "$RUN/miniupnpd.pid.lab"
  if ! wait_for_log "$RUN/miniupnpd.log" "Port forwarding is now enabled" 100; then
    echo "lab: miniupnpd did not enable forwarding within 10 s; its log:" >&2
    cat "$RUN/miniupnpd.log" >&2
    return 1
  fi
}

stop_miniupnpd() {
  local pid
  [ -f "$RUN/miniupnpd.pid.lab" ] || return 0
  pid=$(cat "$RUN/miniupnpd.pid.lab")
  # Only the miniupnpd this lab started, and only while it is still inside the router namespace.
  if ip netns pids "$ROUTER" 2>/dev/null | grep -qx "$pid"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/miniupnpd.pid.lab" "$RUN/miniupnpd.pid"
  # A restarted miniupnpd starts from a clean slate, as a rebooted home router would.
  in_ns "$ROUTER" nft flush chain inet zpl_router miniupnpd 2>/dev/null || true
  in_ns "$ROUTER" nft flush chain inet zpl_router prerouting_miniupnpd 2>/dev/null || true
  in_ns "$ROUTER" nft flush chain inet zpl_router postrouting_miniupnpd 2>/dev/null || true
}

lab_is_up() {
  local mode=$1
  for n in $(all_ns); do ns_exists "$n" || return 1; done
  [ "$(cat "$RUN/mode" 2>/dev/null)" = "$mode" ] || return 1
  [ -n "$(ip netns pids "$(ns stun)" 2>/dev/null)" ] || return 1
  if [ "$mode" != none ]; then
    [ -n "$(ip netns pids "$ROUTER" 2>/dev/null)" ] || return 1
  fi
}

cmd_up() {
  need_root
  need_tools
  local mode=upnp+natpmp
  while [ $# -gt 0 ]; do
    case "$1" in
      --router) mode=${2:?--router needs a mode}; shift 2 ;;
      --router=*) mode=${1#--router=}; shift ;;
      *) die "up: unknown argument $1" ;;
    esac
  done
  case "$mode" in upnp+natpmp|upnp|natpmp|none) ;; *) die "unknown router mode $mode" ;; esac
  if lab_is_up "$mode"; then echo "lab: already up (router: $mode)"; return 0; fi
  cmd_down >/dev/null
  mkdir -p "$RUN"
  # Whatever fails from here on (a command under set -e, or die), no half-built lab stays.
  trap 'rc=$?; if [ $rc -ne 0 ]; then echo "lab: up failed, tearing down" >&2; cmd_down >/dev/null; fi; exit $rc' EXIT

  for n in $(all_ns); do
    ip netns add "$n"
    ip -n "$n" link set lo up
  done

  # the public segment: a bridge inside its own namespace
  ip -n "$SW" link add br0 type bridge
  ip -n "$SW" link set br0 up
  for h in chain client verifier1 verifier2 verifier3 worker stun; do plug_public "$h" "${PUB_IP[$h]}"; done
  ip -n "$(ns stun)" addr add "$STUN2/$PUB_LEN" dev eth0

  # the home router: WAN on the public segment, LAN link to the home worker
  ip -n "$SW" link add p-router type veth peer name wan0 netns "$ROUTER"
  ip -n "$SW" link set p-router master br0 up
  ip -n "$ROUTER" addr add "$ROUTER_WAN/$PUB_LEN" dev wan0
  ip -n "$ROUTER" link set wan0 up
  ip -n "$ROUTER" link add lan0 type veth peer name eth0 netns "$(ns home)"
  ip -n "$ROUTER" addr add "$ROUTER_LAN/24" dev lan0
  ip -n "$ROUTER" link set lan0 up
  ip -n "$(ns home)" addr add "$HOME_IP/24" dev eth0
  ip -n "$(ns home)" link set eth0 up
  ip -n "$(ns home)" route add default via "$ROUTER_LAN"
  in_ns "$ROUTER" sysctl -qw net.ipv4.ip_forward=1
  write_router_nft
  in_ns "$ROUTER" nft -f "$RUN/router.nft"

  # STUN (coturn, STUN only) on two addresses, for miniupnpd's external-address check
  ip netns exec "$(ns stun)" setsid turnserver -n --stun-only --no-cli --no-tls --no-dtls \
    -L "$STUN1" -L "$STUN2" --listening-port 3478 --alt-listening-port 3479 \
    --no-software-attribute --simple-log --log-file "$RUN/turnserver.log" --no-stdout-log \
    --pidfile "$RUN/turnserver.pid" </dev/null >"$RUN/turnserver.out" 2>&1 &
  # coturn is ready when it answers; miniupnpd's STUN check below would fail before that.
  for _ in $(seq 100); do
    if in_ns "$(ns stun)" ss -lun | grep -q "$STUN2:3479"; then break; fi
    sleep 0.1
  done
  if ! in_ns "$(ns stun)" ss -lun | grep -q "$STUN2:3479"; then
    cat "$RUN/turnserver.out" "$RUN/turnserver.log" >&2 2>/dev/null || true
    die "coturn did not start (its output above)"
  fi

  start_miniupnpd "$mode"
  trap - EXIT
  echo "lab: up (router: $mode)"
}

cmd_router() {
  need_root
  local mode=${1:?router needs a mode}
  case "$mode" in upnp+natpmp|upnp|natpmp|none) ;; *) die "unknown router mode $mode" ;; esac
  ns_exists "$ROUTER" || die "the lab is not up"
  stop_miniupnpd
  start_miniupnpd "$mode"
  echo "lab: router: $mode"
}

host_ns() {
  local h=$1
  case "$h" in
    router|sw) echo "${P}$h" ;;
    *) for x in "${HOSTS[@]}"; do [ "$x" = "$h" ] && { ns "$h"; return; }; done
       die "unknown host $h (hosts: router ${HOSTS[*]})" ;;
  esac
}

router_wan() { ip -n "$ROUTER" -4 -o addr show dev wan0 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n 1; }

# Whether miniupnpd, after line $1 of its log, saw an address added to its WAN interface and
# finished a STUN check after that (it logs "STUN: ... done", or, when forwarding was off in
# between, "Port forwarding is now enabled").
stun_checked_since() {
  tail -n +"$(($1 + 1))" "$RUN/miniupnpd.log" 2>/dev/null |
    awk '/RTM_NEWADDR/ {seen = 1} seen && /STUN: \.\.\. done|Port forwarding is now enabled/ {found = 1} END {exit !found}'
}

# The router's WAN address becomes $1 (198.51.100.2-99: free addresses of the public segment).
# miniupnpd follows the interface's address (netlink) and checks it by STUN again; NAT-PMP and
# UPnP IGD then answer the new address, and its forwards (bound to wan0, not to an address) stay.
cmd_wan() {
  need_root
  local a=${1:?wan needs an address} last n=0
  ns_exists "$ROUTER" || die "the lab is not up"
  last=${a##*.}
  [[ "$a" == "$PUB_NET".* && "$last" =~ ^[0-9]+$ ]] && [ "$last" -ge 1 ] && [ "$last" -le 99 ] \
    && [ "$last" != 10 ] && [ "$last" != 20 ] && [ "$last" != 31 ] && [ "$last" != 32 ] && [ "$last" != 40 ] \
    || die "wan: $a is not a free lab address (198.51.100.1-99 without the hosts' .10 .20 .31 .32 .40)"
  [ "$(router_wan)" = "$a" ] && { echo "lab: router WAN already $a"; return 0; }
  [ -f "$RUN/miniupnpd.log" ] && n=$(wc -l < "$RUN/miniupnpd.log")
  ip -n "$ROUTER" addr flush dev wan0
  ip -n "$ROUTER" addr add "$a/$PUB_LEN" dev wan0
  if [ "$(cat "$RUN/mode" 2>/dev/null)" != none ]; then
    for _ in $(seq 100); do
      stun_checked_since "$n" && break
      sleep 0.1
    done
    stun_checked_since "$n" || die "miniupnpd did not check the new address $a within 10 s"
  fi
  echo "lab: router WAN $a"
}

cmd_addr() {
  case "$1" in
    home) echo "$HOME_IP" ;;
    router) router_wan ;;
    router-lan) echo "$ROUTER_LAN" ;;
    stun2) echo "$STUN2" ;;
    *) [ -n "${PUB_IP[$1]:-}" ] || die "unknown host $1"; echo "${PUB_IP[$1]}" ;;
  esac
}

# The uplink of a host: the router's WAN for "home" and "router", else the host's port on the bridge.
uplink() {
  case "$1" in
    home|router) echo "$SW p-router" ;;
    *) host_ns "$1" >/dev/null; echo "$SW p-$1" ;;
  esac
}

cmd_status() {
  for n in $(all_ns); do
    if ns_exists "$n"; then
      printf '%-14s %s\n' "$n" "$(ip -n "$n" -4 -o addr show scope global | awk '{printf "%s=%s ", $2, $4}')"
    else
      printf '%-14s (absent)\n' "$n"
    fi
  done
  echo "router mode: $(cat "$RUN/mode" 2>/dev/null || echo -)"
  ns_exists "$ROUTER" && echo "router processes: $(ip netns pids "$ROUTER" | tr '\n' ' ')"
  ns_exists "$(ns stun)" && echo "stun processes: $(ip netns pids "$(ns stun)" | tr '\n' ' ')"
  return 0
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    router) cmd_router "$@" ;;
    addr) cmd_addr "${1:?addr needs a host}" ;;
    wan) cmd_wan "$@" ;;
    engine) cmd_engine "$@" ;;
    exec)
      need_root
      local h=${1:?exec needs a host}; shift
      [ $# -gt 0 ] || die "exec needs a command"
      exec ip netns exec "$(host_ns "$h")" "$@" ;;
    cut|heal)
      need_root
      local u; u=$(uplink "${1:?$cmd needs a host}")
      # shellcheck disable=SC2086
      set -- $u
      ip -n "$1" link set "$2" "$([ "$cmd" = cut ] && echo down || echo up)" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; [ -z "$cmd" ] || exit 2 ;;
  esac
}

main "$@"
