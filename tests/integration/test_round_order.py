"""The order of a round: the store's commit comes before the broker is told a message arrived.
A round whose commit fails is paged all the same (the store being down must not swallow an
alarm, issue 13) but acknowledges no message to the broker until it is written, so that nothing
decided is lost: if serve stops first, the broker sends the messages again, and they are paged
again under the same page id."""

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
def test_a_round_whose_commit_fails_is_paged_and_its_message_acknowledged_only_once_written(
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
        (page,) = client.wait_for(page_of(0, "12"))  # paged while the store fails
        assert store.failed >= 1
        assert page.json()["kind"] == "call"
        running.stop()  # the held round cannot be written on stopping either
        assert not real.first_page_sent(page.json()["incident"])

        store.failing = False
        serve(rules=rules, store=store)  # the broker sends the call again: it was not acked
        client.wait_for(page_of(0, "12"), count=2)
        wait_until(lambda: real.first_page_sent(page.json()["incident"]), "the page written")
        time.sleep(1.0)
        # the same page again (receivers deduplicate on page_id), and no other
        assert {m.json()["page_id"] for m in client.matching(page_of(0))} == {
            page.json()["page_id"]
        }


class WatchedStore:
    """A real SQLite store that, while it commits a round with pages, looks whether any page
    reached a subscriber already (it waits a little for one that would be on its way)."""

    def __init__(self, store: Store, client: TestClient) -> None:
        self.store = store
        self.client = client
        self.pages_seen_during_commit: list[int] = []

    def commit_step(self, outbox: Any, *args: Any, **kwargs: Any) -> list[int]:
        if outbox:
            time.sleep(0.3)  # a page published before this commit arrives meanwhile
            self.pages_seen_during_commit.append(len(self.client.matching(page_of(0))))
        return self.store.commit_step(outbox, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.mark.mqtt
def test_a_round_is_committed_before_its_pages_are_published(
    serve: Callable[..., RunningService],
    mqtt_client: Callable[..., TestClient],
    names: Names,
    tmp_path: Path,
) -> None:
    """Issue 19: publishing a round's pages before its commit passed every other test; a crash
    between the two would send a page the store never recorded, and a second first page after
    the restart."""
    rules = rules_file(tmp_path, names.site)
    client = mqtt_client([names.pages])
    with open_store(f"sqlite:///{tmp_path / 'sensorhub.db'}") as real:
        store = WatchedStore(real, client)
        serve(rules=rules, store=store)
        client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
        client.wait_for(page_of(0, "12"))
        wait_until(lambda: store.pages_seen_during_commit, "the round's commit")
        assert store.pages_seen_during_commit == [0]  # no page out before its commit
