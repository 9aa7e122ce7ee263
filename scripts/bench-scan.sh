#!/usr/bin/env bash
# Needs curl, jq, python3 (run mode's webhook) and /usr/bin/time (apt-get install curl jq time).
# Benchmark of an org-wide scan against the sandbox, as BENCHMARKS.md reports it:
# a sandbox org of ACCOUNTS x USERS with LATENCY per call, scanned with
# CONCURRENCY accounts in flight. Prints a Markdown section.
#   scripts/bench-scan.sh [ACCOUNTS] [USERS] [LATENCY] [CONCURRENCY] [MODE]
# MODE is scan, run or serve.
# MODE scan (default): `keyage scan -o json` once per source in SOURCES
# (default "auto api"). MODE run: the whole cycle, `keyage run` (scan, record,
# plan, enqueue, deliver to a local webhook) into a new state file.
# MODE serve: one cycle of `keyage serve` (the same config and flags as run):
# it waits until serve's first cycle has ended (keyage_cycles_total on
# /metrics, polled every POLL seconds, default 5) and the outbox is drained
# (keyage_outbox_depth 0), then reports the cycle's wall time, the time to the
# drained outbox, serve's peak RSS (VmHWM) and CPU, and stops it with SIGTERM
# (it must exit 0).
# RECEIVER=file (run and serve modes) delivers to a file receiver instead of the webhook
# (one Python thread), so that the delivery does not bound the wall time.
# KEYAGE_ARGS adds flags to keyage run/scan (e.g. --memprofile /tmp/heap.pprof).
# MAX_INFLIGHT=N passes --max-inflight N to the sandbox (1: a single-threaded
# emulator). The sandbox and the webhook listen on ports the kernel picks.
# SCANNER=path scans with that keyage binary (e.g. one built from main) against
# this checkout's sandbox, to compare two scanners on the same sandbox code.
# Each scan prints the sandbox's service time ("busy": the time requests held
# its slots) and wall/busy with MAX_INFLIGHT (with 1, busy is the floor of the
# wall time); without it, the handlers' time per call and the mean number of
# requests in service.
set -euo pipefail
cd "$(dirname "$0")/.."
ACCOUNTS=${1:-1000} USERS=${2:-100} LATENCY=${3:-20ms} CONCURRENCY=${4:-64} MODE=${5:-scan}
SOURCES=${SOURCES:-auto api} MAX_INFLIGHT=${MAX_INFLIGHT:-0} RECEIVER=${RECEIVER:-webhook}
read -r -a extra <<< "${KEYAGE_ARGS:-}"
out=$(mktemp -d)
sandbox_pid='' hook_pid='' serve_pid=''
cleanup() {
  for p in $serve_pid $sandbox_pid $hook_pid; do kill "$p" 2>/dev/null || true; done
  rm -rf "$out"
}
trap cleanup EXIT

command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
go build -o "$out/keyage" ./cmd/keyage
scanner=${SCANNER:-$out/keyage}

"$out/keyage" sandbox --listen 127.0.0.1:0 --accounts "$ACCOUNTS" --users "$USERS" --latency "$LATENCY" \
  --max-inflight "$MAX_INFLIGHT" --log-level warn > "$out/env" 2> "$out/sandbox.log" &
sandbox_pid=$!
until grep -q AWS_SECRET_ACCESS_KEY "$out/env" 2>/dev/null; do
  kill -0 "$sandbox_pid" 2>/dev/null || { echo "the sandbox did not start:" >&2; cat "$out/sandbox.log" >&2; exit 1; }
  sleep 0.1
done
# shellcheck disable=SC1091
source "$out/env"
stats=$AWS_ENDPOINT_URL/_sandbox/stats

# peak_mb PID: the process's peak resident set so far (VmHWM), in MB.
peak_mb() { awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

echo "### ${MODE^}: $ACCOUNTS accounts x $USERS users, sandbox latency $LATENCY, --concurrency $CONCURRENCY"
echo
prefix=''
[[ $SOURCES != "auto api" ]] && prefix+="SOURCES='$SOURCES' "
[[ $MAX_INFLIGHT != 0 ]] && prefix+="MAX_INFLIGHT=$MAX_INFLIGHT "
[[ $RECEIVER != webhook ]] && prefix+="RECEIVER=$RECEIVER "
[[ -n ${POLL:-} ]] && prefix+="POLL=$POLL "
[[ -n ${KEYAGE_ARGS:-} ]] && prefix+="KEYAGE_ARGS='$KEYAGE_ARGS' "
[[ -n ${SCANNER:-} ]] && prefix+="SCANNER=$SCANNER "
echo "Command: \`${prefix}scripts/bench-scan.sh $*\` on $(nproc) cores, $(go version | cut -d' ' -f3)."
echo

if [[ $MODE == run || $MODE == serve ]]; then
  if [[ $RECEIVER == file ]]; then
    : > "$out/hook"
    printf 'receivers:\n  - name: out\n    file: {path: "%s"}\nroutes:\n  - receivers: [out]\n' "$out/messages.jsonl" > "$out/keyage.yaml"
  else
  # A webhook that answers 204 and counts the POSTs it got.
  python3 -u - > "$out/hook" 2>/dev/null <<'PY' &
import http.server, sys
n = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global n
        self.rfile.read(int(self.headers.get('Content-Length', 0)))
        n += 1
        self.send_response(204); self.end_headers()
        print('post', n, flush=True)
    def log_message(self, *a): pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
print('port', s.server_port, flush=True)
s.serve_forever()
PY
  hook_pid=$!
  until grep -q '^port' "$out/hook" 2>/dev/null; do sleep 0.1; done
  cat > "$out/keyage.yaml" <<EOF
receivers:
  - name: hook
    webhook: {url: "http://127.0.0.1:$(awk '/^port/ {print $2}' "$out/hook")/keyage"}
routes:
  - receivers: [hook]
EOF
  fi
  messages() {
    if [[ $RECEIVER == file ]]; then echo "$(cat "$out/messages.jsonl" 2>/dev/null | wc -l) messages in the file"
    else echo "$(grep -c '^post' "$out/hook") webhook POSTs"; fi
  }
  mb() { awk "BEGIN{printf \"%.1f\", $(du -cb "$@" | tail -n 1 | cut -f1)/1048576}"; }
  if [[ $MODE == serve ]]; then
    POLL=${POLL:-5}
    sb_before=$(cpu_ticks "$sandbox_pid")
    start=$(date +%s.%N)
    "$scanner" serve --config "$out/keyage.yaml" --org --source auto --concurrency "$CONCURRENCY" \
      --state "$out/state.db" --listen 127.0.0.1:0 --log-level info "${extra[@]}" > /dev/null 2> "$out/stderr" &
    serve_pid=$!
    url=''
    until [[ -n $url ]]; do
      kill -0 "$serve_pid" 2>/dev/null || { echo "keyage serve did not start:" >&2; cat "$out/stderr" >&2; exit 1; }
      sleep 0.2
      url=$(sed -n 's/.*msg=serving dashboard=\(http:[^ ]*\).*/\1/p' "$out/stderr" | head -n 1)
    done
    # metric NAME [LABELS]: a sample of the last scrape, e.g. metric keyage_cycles_total 'result="ok"'.
    metric() { awk -v n="$1" -v l="${2:-}" '$1 == n || $1 == n "{" l "}" {print $2; exit}' "$out/metrics"; }
    scrapes=0
    while :; do
      curl -fsS "${url}metrics?name[]=keyage_cycles_total&name[]=keyage_outbox_depth&name[]=keyage_last_cycle_duration_seconds&name[]=keyage_outbox_messages&name[]=keyage_notifications_sent_total" \
        > "$out/metrics" || { echo "scrape $url/metrics failed" >&2; exit 1; }
      scrapes=$((scrapes + 1))
      cycles=$(awk "BEGIN{print $(metric keyage_cycles_total 'result="ok"') + $(metric keyage_cycles_total 'result="error"')}")
      if (( cycles >= 1 )) && [[ $(metric keyage_outbox_depth) == 0 ]]; then break; fi
      kill -0 "$serve_pid" 2>/dev/null || { echo "keyage serve exited:" >&2; tail -n 20 "$out/stderr" >&2; exit 1; }
      sleep "$POLL"
    done
    drained=$(awk "BEGIN{printf \"%.0f\", $(date +%s.%N) - $start}")
    rss=$(peak_mb "$serve_pid") cpu=$(awk "BEGIN{print $(cpu_ticks "$serve_pid")/100}") sb_cpu=$(( $(cpu_ticks "$sandbox_pid") - sb_before ))
    kill -TERM "$serve_pid"
    rc=0; wait "$serve_pid" || rc=$?
    serve_pid=''
    echo "**keyage serve, first cycle**: cycle ${cycles} ($(metric keyage_cycles_total 'result="ok"') ok) in $(awk "BEGIN{printf \"%.1f\", $(metric keyage_last_cycle_duration_seconds)}")s (scan, record, plan, enqueue)," \
      "outbox drained ${drained}s after the start (polled every ${POLL}s, ${scrapes} scrapes), peak RSS **${rss} MB**, CPU ${cpu}s," \
      "state file $(mb "$out"/state.db*) MB, sandbox peak RSS $(peak_mb "$sandbox_pid") MB and CPU $(awk "BEGIN{print $sb_cpu/100}")s," \
      "outbox SENT $(metric keyage_outbox_messages 'state="SENT"'), FAILED $(metric keyage_outbox_messages 'state="FAILED"'), $(messages); SIGTERM: exit status $rc"
    grep -v 'level=INFO' "$out/stderr" | tail -n 3 | sed 's/^/    /'
    echo
    exit "$rc"
  fi
  sb_before=$(cpu_ticks "$sandbox_pid")
  /usr/bin/time -f '%e %M %U %S' -o "$out/time" "$scanner" run --config "$out/keyage.yaml" --org --source auto \
    --concurrency "$CONCURRENCY" --state "$out/state.db" -o json --log-level warn "${extra[@]}" > "$out/run.json" 2> "$out/stderr" || true
  read -r wall rss_kb cpu_user cpu_sys < <(tail -n 1 "$out/time")
  sb_cpu=$(( $(cpu_ticks "$sandbox_pid") - sb_before ))
  echo "**keyage run --source auto**: wall ${wall}s, peak RSS $((rss_kb / 1024)) MB, CPU $(awk "BEGIN{print $cpu_user+$cpu_sys}")s," \
    "state file $(mb "$out"/state.db*) MB, sandbox peak RSS $(peak_mb "$sandbox_pid") MB and CPU $(awk "BEGIN{print $sb_cpu/100}")s," \
    "$(messages); scan: $(jq -c .scan.summary "$out/run.json"), messages: $(jq -c .messages "$out/run.json")"
  tail -n 3 "$out/stderr" | sed 's/^/    /'
  echo
  exit 0
fi

for src in $SOURCES; do
  curl -fsS -X DELETE "$stats" >/dev/null
  sb_before=$(cpu_ticks "$sandbox_pid")
  /usr/bin/time -f '%e %M %U %S' -o "$out/time" "$scanner" scan --org --source "$src" --concurrency "$CONCURRENCY" \
    -o json --log-level warn "${extra[@]}" > "$out/result.json" 2> "$out/stderr" || true
  read -r wall rss_kb cpu_user cpu_sys < <(tail -n 1 "$out/time")
  sb_cpu=$(( $(cpu_ticks "$sandbox_pid") - sb_before ))
  curl -fsS "$stats" > "$out/stats.json"
  flagged=$(jq '[.evaluations[] | select(any(.keys[]; .stage=="expired" or .stage=="warning"))] | length' "$out/result.json")
  scanned=$(jq '[.accounts[] | select(.status=="ok")] | length' "$out/result.json")
  total=$(jq .total "$out/stats.json")
  echo "**--source $src**: wall ${wall}s, peak RSS $((rss_kb / 1024)) MB, scanner CPU $(awk "BEGIN{print $cpu_user+$cpu_sys}")s, sandbox CPU $(awk "BEGIN{print $sb_cpu/100}")s (sandbox peak RSS $(peak_mb "$sandbox_pid") MB, not counted), $total AWS calls for $scanned scanned accounts ($(jq .summary.accountsFailed "$out/result.json") failed), $flagged flagged users; CPU per AWS call $(awk "BEGIN{printf \"%d\", ($cpu_user+$cpu_sys)/$total*1e6}") us; summary: $(jq -c '.summary' "$out/result.json")"
  echo
  if [[ $MAX_INFLIGHT != 0 ]]; then
    jq -r --argjson wall "$wall" '.service | "sandbox busy \(.busySeconds * 1000 | round / 1000) s for \(.served) calls, wall/busy = \(if .busySeconds > 0 then ($wall / .busySeconds * 100 | round / 100) else "n/a" end)"' "$out/stats.json"
  else # no slot: the handlers' time overlaps; busy/wall is the mean number of requests in service
    jq -r --argjson wall "$wall" '.service | "sandbox handler time \(.busySeconds * 1000 | round / 1000) s for \(.served) calls (\(.busySeconds / .served * 1e4 | round / 10) ms a call, latency included), busy/wall = \(.busySeconds / $wall * 10 | round / 10) requests in service on average"' "$out/stats.json"
  fi
  echo
  echo '| API | calls | per scanned account |'
  echo '|---|---:|---:|'
  jq -r --argjson n "$scanned" '.byApi | to_entries | sort_by(-.value)[] | "| \(.key) | \(.value) | \((.value / $n * 100 | round) / 100) |"' "$out/stats.json"
  echo
done
