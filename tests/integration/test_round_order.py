"""The order of a round: the store's commit comes before anything leaves. A round whose
commit fails publishes no page and acknowledges no message to the broker, so that nothing
decided is lost: the broker sends the messages again, and they are paged once."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sensorhub.store import Store, StoreError, open_store
from tests.conftest import Names, RunningService, TestClient, wait_until

from .test_durable import page_of, rules_file
from .test_serve import event


class FailingStore:
    """A real SQLite store whose ``commit_step`` fails while ``failing`` is set, as when its
    disk is full; everything else is the store's own."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.failing = False
        self.failed = 0

    def commit_step(self, *args: Any, **kwargs: Any) -> list[int]:
        if self.failing:
            self.failed += 1
            raise StoreError("database or disk is full")
        return self.store.commit_step(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.mark.mqtt
def test_a_round_whose_commit_fails_publishes_nothing_and_acknowledges_nothing(
    serve: Callable[..., RunningService],
    mqtt_client: Callable[..., TestClient],
    names: Names,
    tmp_path: Path,
) -> None:
    rules = rules_file(tmp_path, names.site)
    with open_store(f"sqlite:///{tmp_path / 'sensorhub.db'}") as real:
        store = FailingStore(real)
        running = serve(rules=rules, store=store)
        client = mqtt_client([names.pages])
        store.failing = True
        client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
        wait_until(lambda: store.failed >= 1, "a commit that fails")
        time.sleep(1.0)  # a page published after the failed commit would be here by now
        assert not client.matching(page_of(0))
        running.stop()  # its snapshot fails too: the store holds nothing of the call

        store.failing = False
        serve(rules=rules, store=store)  # the broker sends the call again: it was not acked
        (page,) = client.wait_for(page_of(0, "12"))
        time.sleep(1.0)
        assert len(client.matching(page_of(0))) == 1  # once
        assert page.json()["kind"] == "call"
