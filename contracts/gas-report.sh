#!/usr/bin/env bash
# Prints the gas of one agreement (test/v2/GasV2.t.sol: a 1-hour and a 24-hour job, 60 s periods, 3 verifiers, as the
# nodes send it) next to protocol v1's recorded figure for the 1-hour job and iExec PoCo's published test-suite
# averages (peer: ~1.63M gas for its one-worker flow, ~2.67M with three workers), the draws' gas with 10 and 10,000
# workers, forge's per-function gas report of WorkerDispatcherV2, and the receipts of real nodes if measured.
set -euo pipefail
cd "$(dirname "$0")"
export FOUNDRY_CACHE_PATH="$PWD/cache"
export FOUNDRY_OUT="$PWD/out"
FORGE=../node_modules/.bin/forge
log=$("$FORGE" test --offline --use ./scripts/solc-adapter.js --mc 'GasV2Test|GasScaleV2Test' -vv 2>&1) || { echo "$log"; exit 1; }
get() { echo "$log" | grep -E "^\s+$1: " | head -1 | awk -F': ' '{print $2}'; }
echo "== One agreement, 1 hour of 60 s periods, 3 verifiers, as the nodes send it (transaction gas: execution + 21000 + calldata) =="
echo "   (test/v2/GasV2.t.sol; v1's figure is recorded there with the commit and command that measured it)"
echo "$log" | grep -E '^\s+v[12] ' | sed 's/^ */  /'
echo
echo "== Targets (issue 12) and the peer (iExec PoCo published averages) =="
h1=$(get 'v2 lifecycle total \(1 h, 60 s periods, 3 verifiers\)')
h24=$(get 'v2 lifecycle total \(24 h, 60 s periods, 3 verifiers\)')
printf '%-44s %10s %10s %14s %14s\n' "figure" "gas" "target" "vs PoCo 1.63M" "vs PoCo 2.67M"
row() { awk -v n="$1" -v g="$2" -v t="$3" 'BEGIN{printf "%-44s %10d %10s %13.2fx %13.2fx\n", n, g, t, 1630000/g, 2670000/g}'; }
row "lifecycle, 3 verifiers, 1-hour job" "$h1" "600000"
row "lifecycle, 3 verifiers, 24-hour job" "$h24" "700000"
echo "(ratio columns: how many times less gas than the peer's flow)"
echo
echo "== The draws with 10 and with 10,000 workers registered (target: within 5%) =="
echo "$log" | grep -E '^\s+(worker|verifier) draw' | sed 's/^ */  /'
echo
echo "== forge gas report (WorkerDispatcherV2, lifecycle and unit tests) =="
# (Under --gas-report's instrumentation the targets asserted by GasV2.t.sol can fail: the figures above are measured
# without it; the table is printed either way.)
{ "$FORGE" test --offline --use ./scripts/solc-adapter.js --mc 'GasV2Test|WorkerDispatcherV2Test' --gas-report 2>&1 || true; } \
  | sed -n '/WorkerDispatcherV2 Contract/,/^╰/p'
echo
echo "== Protocol v2 as real nodes send it (bench/agreement_gas.sh: the receipts of every transaction) =="
scripted="$h1"
measured="${GAS_JSON:-../build/bench/agreement_gas.json}"
if [ -f "$measured" ]; then
  node -e '
    const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const scripted = Number(process.argv[2] || 0);
    const row = (name, gas) => console.log(`  ${name.padEnd(66)} ${gas ? gas.toLocaleString("en-US").padStart(10) : "-".padStart(10)}`);
    row(`nodes on a devnet: ${m.transactions} transactions, ${m.periods} x ${m.period_seconds} s, ${m.verifiers} verifiers (${m.measured_at.slice(0, 10)})`, m.total_gas);
    row("scripted v2 lifecycle, 1 h of 60 s periods, 3 verifiers (GasV2Test)", scripted);
    row("iExec PoCo, 1 worker (published average)", 1630000);
    console.log("  (the nodes send the same transactions for up to 1,440 periods: one batch)");' "$measured" "$scripted"
else
  echo "  not measured on this machine yet: bash bench/agreement_gas.sh (writes $measured)"
fi
