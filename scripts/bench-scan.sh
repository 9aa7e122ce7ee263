#!/usr/bin/env bash
# Needs curl, jq and /usr/bin/time (apt-get install curl jq time).
# Benchmark of an org-wide scan against the sandbox, as BENCHMARKS.md reports it:
# a sandbox org of ACCOUNTS x USERS with LATENCY per call, scanned with
# CONCURRENCY accounts in flight, once per source. Prints a Markdown section.
#   scripts/bench-scan.sh [ACCOUNTS] [USERS] [LATENCY] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
ACCOUNTS=${1:-1000} USERS=${2:-100} LATENCY=${3:-20ms} CONCURRENCY=${4:-64}
PORT=${PORT:-45661}
out=$(mktemp -d)
trap 'kill $sandbox_pid 2>/dev/null || true; rm -rf "$out"' EXIT

command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
go build -o "$out/keyage" ./cmd/keyage

"$out/keyage" sandbox --listen 127.0.0.1:$PORT --accounts "$ACCOUNTS" --users "$USERS" --latency "$LATENCY" \
  --log-level warn > "$out/env" &
sandbox_pid=$!
for _ in $(seq 100); do grep -q AWS_SECRET_ACCESS_KEY "$out/env" 2>/dev/null && break; sleep 0.1; done
# shellcheck disable=SC1091
source "$out/env"
stats=$AWS_ENDPOINT_URL/_sandbox/stats

echo "### Scan: $ACCOUNTS accounts x $USERS users, sandbox latency $LATENCY, --concurrency $CONCURRENCY"
echo
echo "Command: \`scripts/bench-scan.sh $ACCOUNTS $USERS $LATENCY $CONCURRENCY\` on $(nproc) cores, $(go version | cut -d' ' -f3)."
echo
for src in auto api; do
  curl -fsS -X DELETE "$stats" >/dev/null
  sb_before=$(awk '{print $14+$15}' /proc/$sandbox_pid/stat)
  /usr/bin/time -f '%e %M %U %S' -o "$out/time" "$out/keyage" scan --org --source $src --concurrency "$CONCURRENCY" \
    -o json --log-level warn > "$out/result.json" 2> "$out/stderr" || true
  read -r wall rss_kb cpu_user cpu_sys < <(tail -n 1 "$out/time")
  sb_cpu=$(( $(awk '{print $14+$15}' /proc/$sandbox_pid/stat) - sb_before ))
  curl -fsS "$stats" > "$out/stats.json"
  flagged=$(jq '[.evaluations[] | select(any(.keys[]; .stage=="expired" or .stage=="warning"))] | length' "$out/result.json")
  newusers=0
  scanned=$(jq '[.accounts[] | select(.status=="ok")] | length' "$out/result.json")
  total=$(jq .total "$out/stats.json")
  echo "**--source $src**: wall ${wall}s, peak RSS $((rss_kb / 1024)) MB, scanner CPU $(awk "BEGIN{print $cpu_user+$cpu_sys}")s, sandbox CPU $(awk "BEGIN{print $sb_cpu/100}")s, $total AWS calls for $scanned scanned accounts ($(jq .summary.accountsFailed "$out/result.json") failed), $flagged flagged users; summary: $(jq -c '.summary' "$out/result.json")"
  echo
  echo '| API | calls | per scanned account |'
  echo '|---|---:|---:|'
  jq -r --argjson n "$scanned" '.byApi | to_entries | sort_by(-.value)[] | "| \(.key) | \(.value) | \((.value / $n * 100 | round) / 100) |"' "$out/stats.json"
  echo
done
