#!/usr/bin/env bash
# The BullMQ peer for `just bench` (crates/pixq-bench runs it with SIM_URL, SIM_TOKEN,
# REDIS_URL, N, C, EXTEND and MODE set, after one `bench-peer.sh --install`): the same pipeline
# written on BullMQ, kept in bench/peer-bullmq (or PIXQ_PEER_DIR). Its first run installs
# bullmq from npm into ~/.cache/pixq-peer-bullmq. Exits 3, saying why, when node, npm or the
# peer is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peer=${PIXQ_PEER_DIR:-$root/bench/peer-bullmq}
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
# exec all the way down (its `run` execs node), so that node is the bench's own child and its
# CPU time is counted when the bench waits for it.
exec "$peer/run" "$@"
