#!/usr/bin/env bash
# The simulator by hand, with curl: generate (async), see it running, see it done, extend off the
# returned video id, and find both in the ledger. Exits non-zero if any step looks wrong.
#
#   bash scripts/sim-walkthrough.sh            # starts `pixq sim` on 127.0.0.1:18080
#   SIM_URL=http://127.0.0.1:18080 bash ...    # uses a simulator that is already running
set -euo pipefail
cd "$(dirname "$0")/.."

port=${PORT:-18080}
token=${SIM_TOKEN:-sim-token}
sim_pid=""
cleanup() { [[ -n $sim_pid ]] && kill "$sim_pid" 2>/dev/null || true; }
trap cleanup EXIT

if [[ -z ${SIM_URL:-} ]]; then
  SIM_URL="http://127.0.0.1:$port"
  cargo build -q -p pixq
  "${CARGO_TARGET_DIR:-target}/debug/pixq" sim --listen "127.0.0.1:$port" --latency 2s..3s --token "$token" &
  sim_pid=$!
  for _ in $(seq 100); do curl -fs "$SIM_URL/_sim/healthz" >/dev/null && break; sleep 0.1; done
fi

api() { # path, json body
  curl -sS -X POST "$SIM_URL$1" -H "authorization: Bearer $token" \
    -H 'accept: application/json' -H 'content-type: application/json' -d "$2"
}
step() { printf '\n== %s\n' "$1"; }
fail() { echo "walkthrough failed: $*" >&2; exit 1; }

step "1. generate with async: true"
accepted=$(api /pixverse/videos '{"action":"generate","prompt":"a paper boat on a rainy street","async":true}')
echo "$accepted"
task=$(jq -er .task_id <<<"$accepted") || fail "no task_id"

step "2. retrieve: still running (no response yet)"
record=$(api /pixverse/tasks "{\"action\":\"retrieve\",\"id\":\"$task\"}")
echo "$record" | jq -c '{id, created_at, has_response: has("response")}'
[[ $(jq -r 'has("response")' <<<"$record") == false ]] || fail "task finished too early"

step "3. retrieve until done"
for _ in $(seq 60); do
  sleep 1.1 # the upstream allows one poll a second per task
  record=$(api /pixverse/tasks "{\"action\":\"retrieve\",\"id\":\"$task\"}")
  [[ $(jq -r 'has("response")' <<<"$record") == true ]] && break
done
echo "$record" | jq -c '{id, finished_at, elapsed, success: .response.success, video: .response.data[0] | {id, video_url}}'
video_id=$(jq -er '.response.data[0].id' <<<"$record") || fail "no video id"

step "4. extend off video $video_id"
extended=$(api /pixverse/videos "{\"action\":\"extend\",\"prompt\":\"the boat sails away\",\"video_id\":$video_id,\"async\":true}")
echo "$extended"
ext_task=$(jq -er .task_id <<<"$extended") || fail "extend was refused"

step "5. the ledger lists both"
ledger=$(curl -fsS "$SIM_URL/_sim/ledger")
echo "$ledger" | jq -c '.[] | {task_id, action: .request.action, video_id: .request.video_id}'
jq -e --arg a "$task" --arg b "$ext_task" 'map(.task_id) | index($a) != null and index($b) != null' \
  <<<"$ledger" >/dev/null || fail "ledger misses a task"
echo
echo "walkthrough ok"
