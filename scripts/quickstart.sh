#!/usr/bin/env bash
# The quick start in one go: the simulator as the upstream, pixq, one job with an extend step
# submitted with curl, and its result read back. Everything it starts is stopped, and its
# data deleted, on exit.
#
#   bash scripts/quickstart.sh          # one machine: `pixq run` on the embedded store, no Redis
#   bash scripts/quickstart.sh redis    # Redis (started if it is not answering), `pixq api` and
#                                       # two `pixq worker`
#
# Against the real upstream, leave out the simulator and set ACEDATACLOUD_API_TOKEN instead of
# PIXQ__UPSTREAM__BASE_URL and PIXQ__UPSTREAM__TOKEN.
set -euo pipefail
cd "$(dirname "$0")/.."

free_port() { # the first port from $1 that nothing listens on
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}
step() { printf '\n== %s\n' "$1"; }
fail() { echo "quickstart failed: $*" >&2; exit 1; }

mode=${1:-embedded}
[[ $mode == embedded || $mode == redis ]] || fail "usage: $0 [embedded|redis]"

if [[ $mode == redis ]]; then
step "Redis"
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Redis is not answering on 127.0.0.1:6379; starting it"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping
fi

step "build"
cargo build -q -p pixq
pixq="${CARGO_TARGET_DIR:-target}/debug/pixq"

sim_port=$(free_port 18080)
api_port=$(free_port 8080)
export PIXQ__API__LISTEN="127.0.0.1:$api_port"
export PIXQ__UPSTREAM__BASE_URL="http://127.0.0.1:$sim_port"
export PIXQ__UPSTREAM__TOKEN=sim-token
export PIXQ__POLL__FIRST_AFTER=2s
export PIXQ__POLL__INTERVAL=1s
api="http://127.0.0.1:$api_port"
logs=$(mktemp -d)
if [[ $mode == redis ]]; then
  export PIXQ__REDIS__URL=redis://127.0.0.1:6379
  export PIXQ__REDIS__PREFIX="pixq-quickstart-$$"
else
  export PIXQ__DATA_DIR="$logs/data"
fi
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ $mode == redis ]]; then
    redis-cli -h 127.0.0.1 -p 6379 --scan --pattern "$PIXQ__REDIS__PREFIX:*" |
      xargs -r redis-cli -h 127.0.0.1 -p 6379 del >/dev/null
  fi
  rm -rf "$logs"
}
trap cleanup EXIT

"$pixq" sim --listen "127.0.0.1:$sim_port" --latency 2s..4s >"$logs/sim.log" 2>&1 & pids+=($!)
if [[ $mode == redis ]]; then
  step "start the simulator, pixq api and two pixq worker (logs in $logs)"
  "$pixq" api >"$logs/api.log" 2>&1 & pids+=($!)
  "$pixq" worker >"$logs/worker-1.log" 2>&1 & pids+=($!)
  "$pixq" worker >"$logs/worker-2.log" 2>&1 & pids+=($!)
else
  step "start the simulator and pixq run, with its data in $PIXQ__DATA_DIR"
  "$pixq" run >"$logs/run.log" 2>&1 & pids+=($!)
fi
for _ in $(seq 100); do curl -fs "$api/healthz" >/dev/null && break; sleep 0.1; done
curl -fsS "$api/readyz"; echo

step "submit a job with one extend step"
job=$(curl -fsS -X POST "$api/v1/jobs" -H 'content-type: application/json' -d '{
  "prompt": "a paper boat on a rainy street", "quality": "540p",
  "extend": [{"prompt": "the boat sails into the sunset"}]
}')
echo "$job" | jq -c '{id, state, step}'
id=$(jq -er .id <<<"$job") || fail "no job id"

step "wait for both steps"
last="$id.s1"
shown=""
for _ in $(seq 120); do
  state=$(curl -fsS "$api/v1/jobs/$last" 2>/dev/null | jq -r '.state // "not yet"') || state="not created yet"
  [[ $state != "$shown" ]] && echo "$last: $state" && shown=$state
  [[ $state == succeeded ]] && break
  [[ $state == failed || $state == cancelled ]] && fail "the chain ended $state"
  sleep 1
done
[[ $state == succeeded ]] || fail "the chain did not finish in time"

step "read the results back"
for step_id in "$id" "$last"; do
  curl -fsS "$api/v1/jobs/$step_id" |
    jq -c '{id, step, state, task: .upstream.task_id, video_id: .result.video_id, video_url: .result.video_url, extends: .params.video_id}'
done
"$pixq" status "$last" --api "$api"
