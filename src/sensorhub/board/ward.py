"""What the board shows: the open incidents of each site, kept from the store at start and from
the pages and acknowledgements heard on the broker since.

Thread-safe: the MQTT reader thread changes it, the web server's requests read it. ``version``
grows on every change, so that a live view knows when to send the ward again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

from sensorhub.contract import ACK_TOPIC, PAGES_TOPIC
from sensorhub.io.mqtt import STATUS_TOPIC


@dataclass
class PageSeen:
    recipient: str
    escalation: int
    ts: float


@dataclass
class AckSeen:
    by: str
    at: float


@dataclass
class BoardIncident:
    """One incident as the board shows it."""

    incident: str
    site: str
    room: str
    kind: str
    priority: str
    opened: float  # the first page's ts
    pages: list[PageSeen] = field(default_factory=list)
    acks: list[AckSeen] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return bool(self.acks)


class Ward:
    """The incidents of every site the board has heard of."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._incidents: dict[str, BoardIncident] = {}
        self._sites: set[str] = set()
        self.version = 0
        #: the service's last ``sensorhub/status`` (``online``/``offline``), None until heard
        self.service_state: str | None = None

    # -- what comes in -------------------------------------------------------------------------

    def load(self, rows: list[dict[str, Any]]) -> int:
        """Take the open and acknowledged incidents of the router's rows in the store
        (``Store.incidents()``); how many were open."""
        opened = 0
        with self._lock:
            for row in rows:
                page, status = row.get("page") or {}, row.get("status")
                if status not in ("open", "acknowledged") or not page.get("incident"):
                    continue
                item = self._incident_of(page)
                paged_at = row.get("paged_at")
                if paged_at is not None and not item.pages:
                    item.pages = [PageSeen(name, 0, paged_at) for name in row.get("recipients", [])]
                if status == "acknowledged" and row.get("closed_by") and not item.acks:
                    item.acks = [AckSeen(row["closed_by"], row.get("closed_at") or paged_at or 0.0)]
                opened += status == "open"
            self._bump()
        return opened

    def on_message(self, topic: str, payload: Any, received_at: float) -> None:
        """A message from the broker: a page, an acknowledgement or the service's status; any
        other or a malformed one is ignored (the board shows, it does not judge)."""
        if not isinstance(payload, dict):
            return
        with self._lock:
            if topic == STATUS_TOPIC:
                self.service_state = str(payload.get("state"))
            elif topic.startswith(f"{PAGES_TOPIC}/"):
                self._on_page(payload)
            elif topic.startswith(f"{ACK_TOPIC}/"):
                self._on_ack(topic[len(ACK_TOPIC) + 1 :], payload, received_at)
            else:
                return
            self._bump()

    def _on_page(self, page: dict[str, Any]) -> None:
        if not all(isinstance(page.get(key), str) for key in ("incident", "site", "room")):
            return
        item = self._incident_of(page)
        item.pages.append(
            PageSeen(
                str(page.get("recipient", "?")),
                int(page.get("escalation", 0)),
                float(page.get("ts", 0.0)),
            )
        )

    def _on_ack(self, site: str, ack: dict[str, Any], received_at: float) -> None:
        item = self._incidents.get(str(ack.get("incident")))
        if item is None or item.site != site or not isinstance(ack.get("by"), str):
            return
        item.acks.append(AckSeen(ack["by"], float(ack.get("ts", received_at))))

    def _incident_of(self, page: dict[str, Any]) -> BoardIncident:
        name = str(page["incident"])
        item = self._incidents.get(name)
        if item is None:
            item = BoardIncident(
                name,
                str(page["site"]),
                str(page["room"]),
                str(page.get("kind", "?")),
                str(page.get("priority", "normal")),
                float(page.get("ts", 0.0)),
            )
            self._incidents[name] = item
            self._sites.add(item.site)
        return item

    def _bump(self) -> None:
        self.version += 1

    # -- what goes out -------------------------------------------------------------------------

    def sites(self) -> list[str]:
        with self._lock:
            return sorted(self._sites)

    def incidents(self, site: str) -> list[BoardIncident]:
        """The incidents of ``site``: unacknowledged first, then the oldest first."""
        with self._lock:
            items = [
                replace(item, pages=list(item.pages), acks=list(item.acks))
                for item in self._incidents.values()
                if item.site == site
            ]
            return sorted(items, key=lambda i: (i.acknowledged, i.opened, i.room))
