#!/usr/bin/env bash
# Cross-check of the lifecycle gas with real transactions: starts a private anvil, deploys WorkerDispatcher,
# registers 9 workers, makes one warm-up agreement, then runs buy → accept → start → 3 reports → redeem → refund
# for a job of DURATION seconds (default 3600) and prints each receipt's gasUsed and the total.
# Usage: scripts/anvil-lifecycle.sh [duration-seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=../node_modules/.bin
DURATION="${1:-3600}"
PERIOD=600
ART=out/WorkerDispatcher.sol/WorkerDispatcher.json
[ -f "$ART" ] || ./scripts/build.sh >/dev/null
PORT=$((20000 + RANDOM % 20000))
RPC="http://127.0.0.1:$PORT"
"$BIN/anvil" --port "$PORT" --silent --accounts 10 &
ANVIL_PID=$!
trap 'kill $ANVIL_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do "$BIN/cast" block-number --rpc-url "$RPC" >/dev/null 2>&1 && break; sleep 0.2; done

MN="test test test test test test test test test test test junk"
key() { "$BIN/cast" wallet private-key --mnemonic "$MN" --mnemonic-index "$1"; }
send() { # key, to, sig, args... -> prints gasUsed
  local k=$1 to=$2; shift 2
  "$BIN/cast" send --rpc-url "$RPC" --private-key "$k" --json "$to" "$@" | LABEL="$1" node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);if(r.status!=="0x1"){console.error("reverted: "+process.env.LABEL);process.exit(1)}console.log(parseInt(r.gasUsed,16))})'
}
K0=$(key 0)
BYTECODE=$(node -e "console.log(require('./$ART').bytecode.object)")
ARGS=$("$BIN/cast" abi-encode "c(uint256,uint256,uint256,uint256,uint256,uint256,uint256)" \
  1000000000000000000 3600 3600 3600 604800 500 10000)
D=$("$BIN/cast" send --rpc-url "$RPC" --private-key "$K0" --json --create "${BYTECODE}${ARGS#0x}" \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).contractAddress))')
PUB=0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8
declare -a KEYS
for i in $(seq 1 9); do
  KEYS[$i]=$(key "$i")
  send "${KEYS[$i]}" "$D" "registerWorker(uint64,uint32,uint32,uint32,bytes)" 1000000000 2592000 4000 8192 "$PUB" \
    --value 1ether >/dev/null
done
REQ="(1000,1024,$DURATION,$PERIOD,1000000000,3,0,0x0000000000000000000000000000000000000000,$("$BIN/cast" keccak image),$("$BIN/cast" keccak probe))"
SIG_BUY="buyContract((uint32,uint32,uint32,uint32,uint64,uint8,uint16,address,bytes32,bytes32))"
# buyContract's path depends on the including block's prevrandao, so an estimate made against another block can
# fall short: give it head-room (gasUsed is what is reported, not the limit).
BUY_GAS=(--gas-limit 600000)
VALUE=$("$BIN/cast" call --rpc-url "$RPC" "$D" "quote(uint64,uint32,uint32,uint8)(uint256)" 1000000000 "$DURATION" $PERIOD 3 | awk '{print $1}')
# warm-up agreement (the first agreement of a deployment initialises the counter)
send "$K0" "$D" "$SIG_BUY" "$REQ" --value "$VALUE" "${BUY_GAS[@]}" >/dev/null
send "$K0" "$D" "cancelAgreement(uint256)" 1 >/dev/null

total=0
step() {
  [ -n "$2" ] || { echo "anvil-lifecycle: step $1 failed" >&2; exit 1; }
  echo "  $1: $2"
  total=$((total + $2))
}
step buyContract "$(send "$K0" "$D" "$SIG_BUY" "$REQ" --value "$VALUE" "${BUY_GAS[@]}")"
AG=$("$BIN/cast" call --rpc-url "$RPC" "$D" \
  "getAgreement(uint256)((address,uint8,uint32,uint32[],uint64,uint64,uint32,uint32,uint32,uint256,uint256,uint256,uint256,uint256,uint256,bool,bool))" 2)
W=$(echo "$AG" | sed -E 's/^\([^,]*, [0-9]+, ([0-9]+), .*/\1/')
VS=$(echo "$AG" | sed -E 's/^[^[]*\[([0-9, ]*)\].*/\1/' | tr -d ' ' | tr ',' ' ')
step acceptAgreement "$(send "${KEYS[$W]}" "$D" "acceptAgreement(uint256)" 2)"
step startAgreement "$(send "${KEYS[$W]}" "$D" "startAgreement(uint256)" 2)"
"$BIN/cast" rpc --rpc-url "$RPC" evm_increaseTime "$DURATION" >/dev/null
"$BIN/cast" rpc --rpc-url "$RPC" evm_mine >/dev/null
ALL=$(node -e "console.log((1n << BigInt($DURATION / $PERIOD)) - 1n + '')")
for v in $VS; do
  step "provideVerification" "$(send "${KEYS[$v]}" "$D" "provideVerification(uint256,uint256,uint256,uint256)" 2 0 "$ALL" "$ALL")"
done
step "redeemPayment (settles)" "$(send "${KEYS[$W]}" "$D" "redeemPayment(uint256)" 2)"
step claimRefund "$(send "$K0" "$D" "claimRefund(uint256)" 2)"
echo "  lifecycle total (anvil receipts, ${DURATION}s job): $total"
