"""Ace Data Cloud's own Python SDK, unchanged, against pixq's simulator.

If the simulator drifts from the real service's shapes, the vendor's client is the first to
notice: its error mapping and its `task_status()` heuristics are what real users run.
"""

import time

import pytest
from acedatacloud import AceDataCloud
from acedatacloud._runtime.errors import (
    AuthenticationError,
    InsufficientBalanceError,
    ValidationError,
)
from acedatacloud._runtime.tasks import task_status

from conftest import TOKEN, USED_UP_TOKEN, ledger


def wait_until_settled(handle, deadline_s: float = 30.0) -> dict:
    """Polls through the SDK's own handle until its own task_status() says the task ended."""
    deadline = time.monotonic() + deadline_s
    saw_running = False
    while time.monotonic() < deadline:
        state = handle.get()
        status = task_status(state)
        if status == "":
            saw_running = True
        else:
            assert saw_running, "the first poll should see the task still running"
            return state
        time.sleep(1.1)  # the upstream allows one poll a second per task
    pytest.fail("task did not finish in time")


def test_generate_async_then_extend_then_read_back(sim_url):
    client = AceDataCloud(api_token=TOKEN, base_url=sim_url)

    handle = client.video.generate(prompt="a lighthouse at dusk", provider="pixverse", async_=True)
    assert handle.id, "async submit returns a task id"
    state = wait_until_settled(handle)
    assert task_status(state) == "succeeded"
    video = state["response"]["data"][0]
    assert isinstance(video["id"], int)
    # The simulator serves its own media: a URL on the simulator, ending in .mp4.
    assert video["video_url"].startswith(sim_url + "/_sim/media/")
    assert video["video_url"].endswith(".mp4")

    ext = client.video.generate(
        prompt="the camera pulls back",
        provider="pixverse",
        async_=True,
        action="extend",
        video_id=video["id"],
    )
    ext_state = wait_until_settled(ext)
    assert task_status(ext_state) == "succeeded"
    assert ext_state["response"]["data"][0]["extended"] == 1
    assert ext_state["request"]["video_id"] == video["id"]

    record = client.tasks.get(handle.id, service="pixverse")
    assert record["id"] == handle.id
    assert record["request"] == {"prompt": "a lighthouse at dusk", "async": True}
    assert record["response"]["data"][0]["id"] == video["id"]

    ids = [entry["task_id"] for entry in ledger(sim_url)]
    assert handle.id in ids and ext.id in ids


def test_bad_token_raises_authentication_error(sim_url):
    client = AceDataCloud(api_token="not-a-token", base_url=sim_url)
    with pytest.raises(AuthenticationError) as err:
        client.video.generate(prompt="x", provider="pixverse", async_=True)
    assert err.value.code == "invalid_token"
    assert err.value.status_code == 401


def test_used_up_token_raises_insufficient_balance_error(sim_url):
    client = AceDataCloud(api_token=USED_UP_TOKEN, base_url=sim_url)
    with pytest.raises(InsufficientBalanceError) as err:
        client.video.generate(prompt="x", provider="pixverse", async_=True)
    assert err.value.code == "used_up"
    assert err.value.status_code == 403


def test_duration_seven_raises_validation_error(sim_url):
    client = AceDataCloud(api_token=TOKEN, base_url=sim_url)
    with pytest.raises(ValidationError) as err:
        client.video.generate(prompt="x", provider="pixverse", async_=True, duration=7)
    assert err.value.code == "bad_request"
    assert "duration" in err.value.message
