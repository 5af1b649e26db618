"""One ESPA 4.4.4 paging system as an outbox channel of the service.

The service commits each page to the store's outbox first (channel ``espa:<name>``) and only
then hands it to :meth:`EspaChannel.send`. The channel turns the page into a call (the
recipient's call address from the rule file's ``paging.<name>.pagers``) and sends it with the
``EspaClient`` of :mod:`sensorhub.io.espa`, which owns the connection, the link handshake and
its retries, and sends an unconfirmed call again after a reconnect. Here:

- a call the paging system confirmed (ACK) is confirmed in the store (``store.confirm``): it
  leaves the outbox;
- a call that failed (the paging system kept answering NAK or nothing) is logged and sent again
  after ``retry_delay`` seconds, doubling up to ``retry_max``: the page stays pending in the
  store meanwhile, so a restart sends it too;
- :meth:`EspaChannel.start` first sends what the store still holds as pending for the channel,
  in outbox order (the pages left over from before a restart), then the new ones;
- a call status that counts as an acknowledgement (``ack_statuses``) for a call address is
  mapped to the incident of the latest page delivered to that address, and reported as an
  :class:`~sensorhub.contract.Ack` through ``on_ack`` (from the client's thread). ESPA has
  no call reference, so the address is all there is to go on.

The address -> latest page map is kept in the store as the state ``espa:<name>`` (written
before the page is confirmed), so an acknowledgement that comes after a restart still finds its
incident.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from sensorhub.contract import Ack, Page
from sensorhub.espa.link import CallStatus
from sensorhub.espa.profiles import UnknownRecipientError
from sensorhub.io.espa import (
    RECONNECT_MAX_DELAY,
    RECONNECT_MIN_DELAY,
    Delivery,
    EspaClient,
    client_for,
)
from sensorhub.rules.paging import EspaConfig
from sensorhub.store import ESPA_PREFIX, Store, check_channel

logger = logging.getLogger(__name__)

#: First wait before a call that failed is sent again; it doubles up to RETRY_MAX.
RETRY_DELAY: Final = 5.0
RETRY_MAX: Final = 60.0
_STATE_VERSION: Final = 1


class EspaChannel:
    """The outbox channel ``espa:<name>``: pages of ``site`` to one paging system.

    ``start()`` connects (in the background) and re-sends the pages still pending in the store;
    ``send(outbox_id, page)`` sends a page already committed to the outbox; ``stop()`` ends.
    ``on_ack`` hears of every acknowledgement the paging system reports, from the client's
    thread.
    """

    def __init__(
        self,
        name: str,
        config: EspaConfig,
        store: Store,
        *,
        site: str,
        on_ack: Callable[[Ack], None],
        retry_delay: float = RETRY_DELAY,
        retry_max: float = RETRY_MAX,
        reconnect_min: float = RECONNECT_MIN_DELAY,
        reconnect_max: float = RECONNECT_MAX_DELAY,
    ) -> None:
        if not 0 < retry_delay <= retry_max:
            raise ValueError("retry delays must satisfy 0 < retry_delay <= retry_max")
        self.name = name
        self.config = config
        self.store = store
        self.site = site
        self.channel = check_channel(ESPA_PREFIX + name)
        #: The state in the store that keeps the latest page per call address.
        self.state_name = self.channel
        self.on_ack = on_ack
        self.retry_delay = retry_delay
        self.retry_max = retry_max
        self.log = logging.getLogger(f"{__name__}.{name}")
        self._lock = threading.Lock()
        self._sent: dict[Delivery, tuple[int, Page]] = {}
        self._active: set[int] = set()  # outbox ids queued, in flight or waiting for a retry
        self._failures: dict[int, int] = {}  # outbox id -> failed calls in a row
        self._timers: dict[int, threading.Timer] = {}
        self._latest: dict[str, dict[str, Any]] = {}  # call address -> the page delivered last
        self._stopped = False
        self._started = False
        self._reconnect = (reconnect_min, reconnect_max)
        self.client = self._new_client()

    # -- public --------------------------------------------------------------------------------

    def accepts(self, page: Page) -> bool:
        """Whether the page is for this paging system: its site, a recipient with an address."""
        return page.site == self.site and page.recipient in self.config.pagers

    @property
    def connected(self) -> bool:
        return self.client.connected

    @property
    def unconfirmed(self) -> int:
        """Pages handed to this channel and not yet confirmed by the paging system."""
        with self._lock:
            return len(self._active)

    def start(self) -> None:
        """Restore the acknowledgement map, queue the pages pending in the store, connect."""
        with self._lock:
            if self._started:
                self.client = self._new_client()  # started again after stop(): an empty queue
            self._started = True
            self._stopped = False
        state = self.store.load_state(self.state_name)
        calls = state.get("calls") if state is not None else None
        if isinstance(calls, dict):
            with self._lock:
                self._latest = {str(address): dict(entry) for address, entry in calls.items()}
        pending = self.store.pending(self.channel)
        if pending:
            self.log.info(
                "%d pages pending for paging system %s from before: sending them first",
                len(pending),
                self.name,
            )
        for outbox_id, page in pending:
            self._submit(outbox_id, page)
        self.client.start()

    def send(self, outbox_id: int, page: Page) -> None:
        """Send ``page``, already committed to the outbox as ``outbox_id``; returns at once."""
        self._submit(outbox_id, page)

    def stop(self) -> None:
        """Stop sending; what is not confirmed stays pending in the store for the next start."""
        with self._lock:
            self._stopped = True
            timers = list(self._timers.values())
            self._timers.clear()
        for timer in timers:
            timer.cancel()
        self.client.stop()
        with self._lock:
            self._sent.clear()
            self._active.clear()

    # -- inside --------------------------------------------------------------------------------

    def _new_client(self) -> EspaClient:
        return client_for(
            self.config,
            on_status=self._on_status,
            on_delivery=self._on_delivery,
            reconnect_min=self._reconnect[0],
            reconnect_max=self._reconnect[1],
            log=self.log,
        )

    def _submit(self, outbox_id: int, page: Page) -> None:
        with self._lock:  # held while queuing: the delivery cannot be reported before it is known
            if self._stopped:
                return  # it stays pending in the store: start() sends it
            if outbox_id in self._active:
                self.log.debug("page %s (outbox %d) is already on its way", page.page_id, outbox_id)
                return
            try:
                delivery = self.client.send_page(page)
            except UnknownRecipientError as error:
                self.log.error(  # noqa: TRY400 - the message says all; no traceback needed
                    "page %s (outbox %d) stays in the outbox of %s: %s",
                    page.page_id,
                    outbox_id,
                    self.channel,
                    error,
                )
                return
            self._sent[delivery] = (outbox_id, page)
            self._active.add(outbox_id)

    def _on_delivery(self, delivery: Delivery) -> None:
        with self._lock:
            entry = self._sent.pop(delivery, None)
        if entry is None:
            return
        outbox_id, page = entry
        if delivery.delivered:
            self._delivered(outbox_id, page, delivery)
        else:
            self._failed(outbox_id, page, delivery)

    def _delivered(self, outbox_id: int, page: Page, delivery: Delivery) -> None:
        address = delivery.call.address
        latest = {
            "incident": page.incident,
            "recipient": page.recipient,
            "page_id": page.page_id,
            "delivered_at": time.time(),
        }
        with self._lock:
            self._latest[address] = latest
            calls = {key: dict(value) for key, value in self._latest.items()}
            self._active.discard(outbox_id)
            self._failures.pop(outbox_id, None)
        try:
            # the map first: a crash in between leaves the page pending, to be sent again
            self.store.save_state(self.state_name, {"version": _STATE_VERSION, "calls": calls})
            if not self.store.confirm(outbox_id):
                self.log.debug("outbox %d was confirmed already", outbox_id)
        except Exception:
            self.log.exception(
                "page %s reached paging system %s but could not be confirmed in the store; it "
                "will be sent again after a restart",
                page.page_id,
                self.name,
            )

    def _failed(self, outbox_id: int, page: Page, delivery: Delivery) -> None:
        with self._lock:
            failures = self._failures[outbox_id] = self._failures.get(outbox_id, 0) + 1
            delay = min(self.retry_delay * 2 ** (failures - 1), self.retry_max)
            if self._stopped:
                self._active.discard(outbox_id)
                return
            timer = threading.Timer(delay, self._retry, args=(outbox_id, page))
            timer.daemon = True
            self._timers[outbox_id] = timer  # it stays active: send() does not queue it twice
        self.log.warning(
            "page %s to %s (call address %s) did not reach paging system %s (%s); it stays in "
            "the outbox and is sent again in %.0f s",
            page.page_id,
            page.recipient,
            delivery.call.address,
            self.name,
            delivery.reason,
            delay,
        )
        timer.start()

    def _retry(self, outbox_id: int, page: Page) -> None:
        with self._lock:
            self._timers.pop(outbox_id, None)
            self._active.discard(outbox_id)
            if self._stopped:
                return
        self._submit(outbox_id, page)

    def _on_status(self, address: str, status: CallStatus) -> None:
        if not status.acknowledged:
            return
        with self._lock:
            latest = self._latest.get(address)
        if latest is None:
            self.log.info(
                "paging system %s reports call address %s acknowledged, but no page to it is "
                "known: nothing to acknowledge",
                self.name,
                address,
            )
            return
        # the paging system says no when: the acknowledgement is of the moment it arrives
        ack = Ack(self.site, str(latest["incident"]), by=str(latest["recipient"]))
        self.log.info(
            "page %s acknowledged on pager %s (%s) of paging system %s",
            latest.get("page_id"),
            address,
            ack.by,
            self.name,
        )
        self.on_ack(ack)


__all__ = ["RETRY_DELAY", "RETRY_MAX", "EspaChannel"]
