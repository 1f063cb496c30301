"""Starts the pixverse-sim binary on a free loopback port for the SDK conformance tests."""

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sdk-token"
USED_UP_TOKEN = "sdk-used-up"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sim_binary() -> str:
    explicit = os.environ.get("PIXVERSE_SIM_BIN")
    if explicit:
        return explicit
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return str(target / "debug" / "pixverse-sim")


@pytest.fixture(scope="session")
def sim_url():
    port = _free_port()
    binary = _sim_binary()
    if not Path(binary).exists():
        pytest.fail(f"{binary} does not exist: run `cargo build -p pixverse-sim` first")
    proc = subprocess.Popen(
        [
            binary,
            "--listen", f"127.0.0.1:{port}",
            "--latency", "1500ms..2500ms",
            "--token", TOKEN,
            "--used-up-token", USED_UP_TOKEN,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_sim/healthz", timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("pixverse-sim did not become healthy")
        time.sleep(0.05)
    yield url
    proc.kill()
    proc.wait(timeout=10)


def ledger(url: str) -> list:
    with urllib.request.urlopen(f"{url}/_sim/ledger", timeout=5) as resp:
        return json.load(resp)
