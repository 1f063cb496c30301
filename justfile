# pixq's everyday commands. `just --list` shows them. None of the set-up steps needs just:
# the README gives the plain commands too.

# Build every crate.
build:
    cargo build --workspace

# The whole test suite, exactly as CI runs it (starts Redis if it is down).
test:
    bash .ci/run

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The upstream simulator on 127.0.0.1:18080 (pass flags, e.g. `just sim --latency 2s..3s`).
sim *FLAGS:
    cargo run -p pixq -- sim {{FLAGS}}

# Benchmarks, with figures printed: the client against the simulator, then the suite of
# crates/pixq-bench (pipeline beside the BullMQ peer, latency, parked, scale, accept), each on
# its own Redis or embedded store. Tables print as it goes; every run appends to
# target/bench/results.jsonl and draws target/bench/report.svg. Pass scenarios and flags, e.g.
# `just bench pipeline --n 10000 --workers 1,2,4`, `just bench parked --full`; `--help` lists them.
bench *FLAGS:
    cargo bench -p pixverse --bench roundtrip
    cargo build --release -p pixq -p pixq-bench
    cargo run --release --quiet -p pixq-bench -- {{FLAGS}}

# A newcomer's first run: the sample prompts through the embedded store, the simulator, the
# API and a worker in one process; no Redis, no token, no configuration.
demo *FLAGS:
    cargo run --release -p pixq -- demo {{FLAGS}}

# Schemathesis (from PyPI, into target/fuzz-venv) against the live API: the simulator and
# `pixq run` on a temporary data dir; no 5xx, every answer as GET /openapi.json says. Pass
# schemathesis flags, e.g. `just fuzz-api --max-examples 20`.
fuzz-api *FLAGS:
    bash scripts/fuzz-api.sh {{FLAGS}}
