#!/usr/bin/env bash
# Prints the gas figures of the DESIGN.md targets (measured by test/Gas.t.sol) next to iExec PoCo's published
# test-suite averages (peer: ~1.63M gas for its one-worker flow, ~2.67M with three workers), with the ratio.
# Also prints forge's per-function gas report of WorkerDispatcher.
set -euo pipefail
cd "$(dirname "$0")"
export FOUNDRY_CACHE_PATH="$PWD/cache"
export FOUNDRY_OUT="$PWD/out"
FORGE=../node_modules/.bin/forge
log=$("$FORGE" test --offline --use ./scripts/solc-adapter.js --mc 'Gas' -vv 2>&1) || { echo "$log"; exit 1; }
echo "== Per-step gas (transaction gas: execution + 21000 + calldata) =="
echo "$log" | grep -E '^\s+(1h|24h) ' | sed 's/^ */  /'
echo
echo "== Targets (DESIGN.md) and the peer (iExec PoCo published averages) =="
get() { echo "$log" | grep -E "^\s+$1: " | head -1 | awk -F': ' '{print $2}'; }
h1=$(get '1h lifecycle total'); h24=$(get '24h lifecycle total')
b10=$(get 'buyContract gas, 10 workers \(execution, mean of 20\)'); b10k=$(get 'buyContract gas, 10000 workers \(execution, mean of 20\)')
printf '%-44s %10s %10s %14s %14s\n' "figure" "gas" "target" "vs PoCo 1.63M" "vs PoCo 2.67M"
row() { awk -v n="$1" -v g="$2" -v t="$3" 'BEGIN{printf "%-44s %10d %10s %13.2fx %13.2fx\n", n, g, t, 1630000/g, 2670000/g}'; }
row "lifecycle, 3 verifiers, 1-hour job" "$h1" "450000"
row "lifecycle, 3 verifiers, 24-hour job" "$h24" "600000"
awk -v a="$b10" -v b="$b10k" 'BEGIN{d=(b>a)?b-a:a-b; printf "%-44s %10d\n%-44s %10d   difference %.2f%% (target < 5%%)\n", "buyContract, 10 workers", a, "buyContract, 10,000 workers", b, 100*d/a}'
echo "(ratio columns: how many times less gas than the peer's flow)"
echo
echo "== Cross-check with real transactions on a private anvil (receipts' gasUsed) =="
./scripts/build.sh >/dev/null
./scripts/anvil-lifecycle.sh 3600 | tail -1
./scripts/anvil-lifecycle.sh 86400 | tail -1
echo
echo "== forge gas report (WorkerDispatcher, lifecycle and unit tests) =="
# (Under --gas-report's instrumentation Gas.t.sol's own target assertions fail, 1h: ~622k > 450k:
# the figures above are measured without it; the table is printed either way.)
{ "$FORGE" test --offline --use ./scripts/solc-adapter.js --mc 'GasTest|WorkerDispatcherTest' --gas-report 2>&1 || true; } \
  | sed -n '/WorkerDispatcher Contract/,/^╰/p'
echo
echo "== Protocol v2 (src/v2) next to v1: one 1-hour agreement, 60 s periods, 3 verifiers, as the nodes send it =="
echo "   (test/v2/GasV2.t.sol: v1 with one report per verifier per period and 8 postMessage transactions)"
v2log=$("$FORGE" test --offline --use ./scripts/solc-adapter.js --mc GasV2Test -vv 2>&1)
echo "$v2log" | grep -E '^\s+v[12] ' | sed 's/^ */  /'
echo
echo "== Protocol v2 as real nodes send it (bench/agreement_gas.sh: the receipts of every transaction) =="
scripted=$(echo "$v2log" | grep -E '^\s+v2 lifecycle total \(1 h' | head -1 | awk -F': ' '{print $2}')
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
