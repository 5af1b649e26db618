"""EspaChannel: a paging system as an outbox channel, against the real simulator and SQLite.

Every test runs the paging-system simulator on a free loopback port and a store in a real
SQLite file; pages are committed to the outbox first, as the service does, then sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from simulators.espa_pager import PagerSimulator

from sensorhub.contract import Ack, Page
from sensorhub.io.paging import EspaChannel
from sensorhub.rules.paging import EspaConfig
from sensorhub.store import Store, open_store
from tests.conftest import wait_until

WAIT = 10.0
SITE = "zon"
PAGERS = {"night-team": "120", "pager-7": "107", "quiet": "199"}


def page(incident: str, recipient: str = "night-team", *, escalation: int = 0) -> Page:
    return Page(
        page_id=f"{incident}/{escalation}/{recipient}",
        incident=incident,
        site=SITE,
        room="101",
        kind="fall",
        priority="critical",
        audience="care",
        ts=1_700_000_000.0,
        escalation=escalation,
        recipient=recipient,
        text=f"Room 101: FALL ({incident})",
        events=["e1"],
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'sensorhub.db'}") as opened:
        yield opened


@pytest.fixture
def pager() -> Iterator[PagerSimulator]:
    with PagerSimulator(ack_delay=0.05, ignore={"199"}) as simulator:
        yield simulator


class Acks:
    """Collects what ``on_ack`` hears (from the client's thread)."""

    def __init__(self) -> None:
        self.items: list[Ack] = []
        self.lock = threading.Lock()

    def __call__(self, ack: Ack) -> None:
        with self.lock:
            self.items.append(ack)

    @property
    def incidents(self) -> list[str]:
        with self.lock:
            return [ack.incident for ack in self.items]


@pytest.fixture
def channels(store: Store) -> Iterator[Callable[..., tuple[EspaChannel, Acks]]]:
    """``channels(simulator, **config)``: a started channel ``espa:dect-1``; stopped after."""
    made: list[EspaChannel] = []

    def make(
        simulator: PagerSimulator, *, start: bool = True, **config: Any
    ) -> tuple[EspaChannel, Acks]:
        settings = EspaConfig(
            host="127.0.0.1",
            port=simulator.port,
            pagers=PAGERS,
            response_timeout=0.5,
            poll_interval=0.05,
            **config,
        )
        acks = Acks()
        channel = EspaChannel(
            "dect-1",
            settings,
            store,
            site=SITE,
            on_ack=acks,
            retry_delay=0.1,
            retry_max=0.2,
            reconnect_min=0.05,
            reconnect_max=0.2,
        )
        made.append(channel)
        if start:
            channel.start()
        return channel, acks

    yield make
    for channel in made:
        channel.stop()


def commit_and_send(store: Store, channel: EspaChannel, sent: Page) -> int:
    """As the service does: the page into the outbox first, then out."""
    [outbox_id] = store.commit_step([(sent, channel.channel)], {}, [])
    channel.send(outbox_id, sent)
    return outbox_id


def test_the_channel_is_named_after_the_paging_system_and_takes_its_sites_pages(
    store: Store,
) -> None:
    config = EspaConfig(host="127.0.0.1", port=9, pagers=PAGERS)
    channel = EspaChannel("dect-1", config, store, site=SITE, on_ack=lambda ack: None)
    assert channel.channel == "espa:dect-1"
    assert channel.accepts(page("a"))
    assert channel.accepts(page("a", "pager-7"))
    assert not channel.accepts(page("a", "technicians"))  # no call address here
    assert not channel.accepts(page("a").model_copy(update={"site": "other"}))


def test_a_delivered_page_is_confirmed_in_the_store(
    store: Store, pager: PagerSimulator, channels: Callable[..., tuple[EspaChannel, Acks]]
) -> None:
    channel, _ = channels(pager)
    commit_and_send(store, channel, page("inc-1"))
    [received] = pager.wait_for_calls(1)
    assert received.call.address == "120"
    assert received.call.message == "Room 101: FALL (inc-1)"
    wait_until(lambda: store.pending(channel.channel) == [], "the page to be confirmed")
    assert channel.unconfirmed == 0
    assert pager.errors == []


def test_pages_pending_in_the_store_are_sent_first_on_start_in_order(
    store: Store, pager: PagerSimulator, channels: Callable[..., tuple[EspaChannel, Acks]]
) -> None:
    """Pages committed before a restart and never confirmed go out first, in outbox order."""
    left_over = [page("old-1"), page("old-2", "pager-7"), page("old-3")]
    store.commit_step([(p, "espa:dect-1") for p in left_over], {}, [])
    channel, _ = channels(pager, start=False)
    channel.start()
    commit_and_send(store, channel, page("new-1"))
    calls = pager.wait_for_calls(4)
    assert [c.call.message for c in calls] == [
        "Room 101: FALL (old-1)",
        "Room 101: FALL (old-2)",
        "Room 101: FALL (old-3)",
        "Room 101: FALL (new-1)",
    ]
    assert [c.call.address for c in calls] == ["120", "107", "120", "120"]
    wait_until(lambda: store.pending("espa:dect-1") == [], "every page to be confirmed")
    time.sleep(0.2)
    assert len(pager.calls) == 4  # each once


def test_a_page_sent_twice_by_its_outbox_id_is_called_once(
    store: Store, pager: PagerSimulator, channels: Callable[..., tuple[EspaChannel, Acks]]
) -> None:
    """A page pending at start and handed over again by the service is not queued twice."""
    [outbox_id] = store.commit_step([(page("inc-1"), "espa:dect-1")], {}, [])
    channel, _ = channels(pager)
    channel.send(outbox_id, page("inc-1"))
    pager.wait_for_calls(1)
    wait_until(lambda: store.pending(channel.channel) == [], "the page to be confirmed")
    time.sleep(0.2)
    assert len(pager.calls) == 1


def test_a_nak_is_retried_and_the_page_confirmed(
    store: Store, pager: PagerSimulator, channels: Callable[..., tuple[EspaChannel, Acks]]
) -> None:
    pager.nak_next(2)
    channel, _ = channels(pager)
    commit_and_send(store, channel, page("inc-1"))
    pager.wait_for_calls(1)
    wait_until(lambda: store.pending(channel.channel) == [], "the page to be confirmed")
    assert pager.injected == ["NAK to a good block", "NAK to a good block"]
    assert len(pager.calls) == 1


def test_a_call_that_fails_stays_pending_and_is_sent_again(
    store: Store, pager: PagerSimulator, channels: Callable[..., tuple[EspaChannel, Acks]]
) -> None:
    """Retries run out (NAK to every attempt): the page stays in the outbox and goes again."""
    pager.nak_next(2)  # max_retries 1: two attempts, both refused: the call fails
    channel, _ = channels(pager, max_retries=1)
    outbox_id = commit_and_send(store, channel, page("inc-1"))
    wait_until(lambda: len(pager.injected) == 2, "two refused attempts")
    assert [i for i, _ in store.pending(channel.channel)] == [outbox_id]
    [received] = pager.wait_for_calls(1)  # sent again after retry_delay, and accepted
    assert received.call.message == "Room 101: FALL (inc-1)"
    wait_until(lambda: store.pending(channel.channel) == [], "the page to be confirmed")


def test_an_acknowledged_call_reaches_on_ack_with_its_incident(
    store: Store, pager: PagerSimulator, channels: Callable[..., tuple[EspaChannel, Acks]]
) -> None:
    channel, acks = channels(pager)
    commit_and_send(store, channel, page("zon/101/fall/1", "pager-7"))
    wait_until(lambda: acks.items != [], "the acknowledgement")
    [ack] = acks.items
    assert (ack.site, ack.incident, ack.by) == (SITE, "zon/101/fall/1", "pager-7")
    assert ack.ts is None  # of the moment it arrives


def test_an_acknowledgement_answers_the_latest_page_to_that_address(
    store: Store, pager: PagerSimulator, channels: Callable[..., tuple[EspaChannel, Acks]]
) -> None:
    pager.ack_delay = 0.5
    channel, acks = channels(pager)
    commit_and_send(store, channel, page("first"))
    pager.wait_for_calls(1)
    commit_and_send(store, channel, page("second"))
    pager.wait_for_calls(2)
    wait_until(lambda: len(acks.items) == 2, "both acknowledgements")
    assert acks.incidents == ["second", "second"]  # ESPA has no call reference


def test_an_ignored_call_is_not_acknowledged(
    store: Store, pager: PagerSimulator, channels: Callable[..., tuple[EspaChannel, Acks]]
) -> None:
    channel, acks = channels(pager)
    commit_and_send(store, channel, page("ignored", "quiet"))
    commit_and_send(store, channel, page("answered", "pager-7"))
    pager.wait_for_calls(2)
    wait_until(lambda: acks.items != [], "the other call's acknowledgement")
    time.sleep(0.3)  # status 2 (transmitted) for the ignored call has come and gone
    assert acks.incidents == ["answered"]
    assert store.pending(channel.channel) == []  # delivered all the same


def test_an_acknowledgement_after_a_restart_finds_its_incident(
    store: Store, channels: Callable[..., tuple[EspaChannel, Acks]]
) -> None:
    """The address -> page map is in the store: a channel started afresh maps the ack."""
    with PagerSimulator(ack_delay=0.05, ignore={"120"}) as before:
        channel, _ = channels(before)
        commit_and_send(store, channel, page("zon/101/fall/9"))
        before.wait_for_calls(1)
        wait_until(lambda: store.pending(channel.channel) == [], "the page to be confirmed")
        channel.stop()
    assert store.load_state("espa:dect-1") is not None
    with PagerSimulator(ack_delay=0.05) as after:
        _, acks = channels(after)
        after.ack("120")  # the pager's key pressed while sensorhub was away
        wait_until(lambda: acks.items != [], "the acknowledgement")
    assert acks.incidents == ["zon/101/fall/9"]
    assert acks.items[0].by == "night-team"


def test_an_acknowledgement_for_an_address_never_paged_is_ignored(
    pager: PagerSimulator, channels: Callable[..., tuple[EspaChannel, Acks]]
) -> None:
    channel, acks = channels(pager)
    pager.ack("107")
    wait_until(lambda: pager.reported != [], "the status to be handed out")
    time.sleep(0.1)
    assert acks.items == []
    assert channel.connected


def test_a_page_for_a_recipient_without_a_call_address_stays_pending(
    store: Store, pager: PagerSimulator, channels: Callable[..., tuple[EspaChannel, Acks]]
) -> None:
    channel, _ = channels(pager)
    outbox_id = commit_and_send(store, channel, page("inc-1", "technicians"))
    commit_and_send(store, channel, page("inc-2"))
    pager.wait_for_calls(1)
    wait_until(lambda: len(store.pending(channel.channel)) == 1, "the other page to be confirmed")
    assert [i for i, _ in store.pending(channel.channel)] == [outbox_id]
