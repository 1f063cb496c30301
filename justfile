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

# Benchmarks, with figures printed: the client against the simulator, then pixq's whole
# pipeline (release `pixq api` + `pixq worker`), and the BullMQ peer against the same simulator
# and Redis when node and npm are installed. Env: N, C, EXTEND, WORKERS.
bench:
    cargo bench -p pixverse --bench roundtrip
    PIXQ_BENCH_PEER="{{justfile_directory()}}/scripts/bench-peer.sh" cargo bench -p pixq --bench pipeline

# A newcomer's first run: the simulator walked through by hand with curl.
demo:
    bash scripts/quickstart.sh
