#!/usr/bin/env bash
# Schemathesis against the live API: the simulator as the upstream and `pixq run` (embedded
# store, no Redis) on a temporary data dir, with a bearer token; schemathesis reads
# GET /openapi.json and sends what the document allows (and what it does not), checking that
# no answer is a 5xx and that every answer matches the document (status, content type, body).
#
#   bash scripts/fuzz-api.sh                         # the full run (`just fuzz-api`)
#   bash scripts/fuzz-api.sh --max-examples 20       # extra flags go to `schemathesis run`
#   PIXQ__REDIS__URL=redis://127.0.0.1:6379 bash scripts/fuzz-api.sh   # on Redis instead, under
#                                                    # a prefix of its own, deleted on exit
#
# Schemathesis comes from PyPI into target/fuzz-venv on first use. Everything started here is
# stopped, and its data deleted, on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

free_port() { # the first port from $1 that nothing listens on
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

venv=target/fuzz-venv
if [[ ! -x $venv/bin/schemathesis ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/fuzz-api.requirements.txt
fi

cargo build -q -p pixq
pixq="${CARGO_TARGET_DIR:-target}/debug/pixq"

sim_port=$(free_port 18180)
api_port=$(free_port 8180)
work=$(mktemp -d)
export PIXQ__API__LISTEN="127.0.0.1:$api_port"
export PIXQ__API__TOKENS=fuzz-token
export PIXQ__UPSTREAM__BASE_URL="http://127.0.0.1:$sim_port"
export PIXQ__UPSTREAM__TOKEN=sim-token
export PIXQ__DATA_DIR="$work/data"
export PIXQ__POLL__FIRST_AFTER=1s
export PIXQ__POLL__INTERVAL=1s
if [[ -n ${PIXQ__REDIS__URL:-} ]]; then
  export PIXQ__REDIS__PREFIX="pixq-fuzz-$$"
fi
api="http://127.0.0.1:$api_port"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n ${PIXQ__REDIS__URL:-} ]]; then
    # In Redis itself: fuzzed Idempotency-Keys put quotes and backslashes in key names.
    redis-cli -u "$PIXQ__REDIS__URL" EVAL "local c = '0' repeat
      local r = redis.call('SCAN', c, 'MATCH', ARGV[1], 'COUNT', 1000); c = r[1]
      for _, k in ipairs(r[2]) do redis.call('UNLINK', k) end until c == '0'" \
      0 "$PIXQ__REDIS__PREFIX:*" >/dev/null || echo "could not delete $PIXQ__REDIS__PREFIX:*" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$pixq" sim --listen "127.0.0.1:$sim_port" --latency 200ms..500ms >"$work/sim.log" 2>&1 & pids+=($!)
"$pixq" run >"$work/run.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do curl -fs "$api/healthz" >/dev/null && break; sleep 0.1; done
curl -fsS "$api/readyz" >/dev/null || { cat "$work/run.log"; echo "pixq run did not start" >&2; exit 1; }

# A few jobs and a batch, so the id routes also meet things that exist.
for prompt in "a fox in the snow" "a lighthouse at dusk"; do
  curl -fsS -X POST "$api/v1/jobs" -H 'authorization: Bearer fuzz-token' \
    -H 'content-type: application/json' -d "{\"prompt\": \"$prompt\"}" >/dev/null
done
curl -fsS -X POST "$api/v1/batches" -H 'authorization: Bearer fuzz-token' \
  -H 'content-type: text/plain' --data-binary $'a kite\na canoe\n' >/dev/null

status=0
SCHEMATHESIS_HOOKS=fuzz_hooks PYTHONPATH=scripts "$venv/bin/schemathesis" --no-color run "$api/openapi.json" \
  --header 'Authorization: Bearer fuzz-token' \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --workers 1 \
  --request-timeout 30 \
  --suppress-health-check all \
  "$@" || status=$?
if [[ $status -ne 0 ]]; then
  echo "--- pixq run's log (last 60 lines)"
  tail -n 60 "$work/run.log"
fi
exit "$status"
