#!/usr/bin/env bash
# The BullMQ peer for `just bench` (crates/pixq/benches/pipeline.rs runs it with SIM_URL,
# SIM_TOKEN, REDIS_URL, N, C and EXTEND set): the same pipeline written on BullMQ, kept in
# ../shared/peers/bullmq (or PIXQ_PEER_DIR). Its first run installs bullmq from npm into
# ~/.cache/pixq-peer-bullmq. Exits 3, saying why, when node, npm or the peer is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peer=${PIXQ_PEER_DIR:-$root/../shared/peers/bullmq}
for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool is not installed" >&2
    exit 3
  fi
done
if [[ ! -x $peer/run ]]; then
  echo "no peer at $peer (set PIXQ_PEER_DIR)" >&2
  exit 3
fi
# exec all the way down (its `run` execs node), so that the benchmark knows node's pid and can
# delete the peer's queue from Redis if it dies.
exec "$peer/run"
