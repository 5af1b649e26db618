"""``serve --shadow CANDIDATE``: candidate rules beside the live ones, on the same stream,
paging nobody.

A technician who wants to know what a rule change does on the site's own nights runs the
candidate in the shadow of the live rules: a second engine of its own (classifier, router,
silences, the sources' last states) decides every message, tick and acknowledgement the live
engine decides, in the same rounds. What it would have paged is published on
``sensorhub/shadow/<site>/<recipient>`` (QoS 0: a shadow never holds a live page up in the
window of messages in flight) and, with ``--shadow-pages FILE``, written as JSONL, the same
form as ``--pages``, so that ``sensorhub rules compare --pages LIVE SHADOW`` shows the same
report as a comparison on recordings. It never reaches a paging system, the store's outbox, or
the dead letters (the live engine answers for those).

Agreement is counted in ``sensorhub_shadow_pages_total{kind,verdict}``: a page both send (the
same site, room, kind, recipient, escalation and moment: ``page_key``) is ``agree``; a page
only one of them sends is ``live_only`` or ``shadow_only`` once the event clock has passed it
by ``PARTNER_WAIT`` without its partner.

The shadow's classifier state is saved with the live one's (``SHADOW_STATE``) and the journal
is given back to both after a restart, so its pending decisions outlive a process as the live
ones do. Its router's open incidents are not kept: after a restart, the shadow sends no
escalation of an incident opened before it. Promoting the candidate is a reload of the live
rules (``sensorhub reload`` after copying it over), with nothing lost; a reload reads the
candidate again too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

from prometheus_client import CollectorRegistry, Counter

from sensorhub.codec.acks import AckIn
from sensorhub.contract import Page
from sensorhub.core.types import JournalEntry
from sensorhub.engine import Clock, Engine
from sensorhub.evaluation.compare import PageKey, page_key
from sensorhub.io.inbox import InboundMessage
from sensorhub.io.mqtt import MqttConnection
from sensorhub.rules import RuleFileError, load_policy

logger = logging.getLogger(__name__)

__all__ = ["PARTNER_WAIT", "SHADOW_STATE", "SHADOW_TOPIC", "Shadow"]

#: Where the shadow's pages go: ``<SHADOW_TOPIC>/<site>/<recipient>``.
SHADOW_TOPIC: Final = "sensorhub/shadow"
#: The store's state key of the shadow's classifier (beside the live one's).
SHADOW_STATE: Final = "shadow_classifier"
#: A page without its partner is one side's only once the event clock is this far past it (s).
PARTNER_WAIT: Final = 60.0
VERDICTS: Final = ("agree", "live_only", "shadow_only")


class Shadow:
    """The candidate rules of ``path`` deciding what the live engine decides (see the module's
    docstring). ``round`` after each live round; ``snapshot``/``resume`` beside the live
    engine's; ``reload`` when the live rules are read again."""

    def __init__(
        self,
        path: Path,
        connection: MqttConnection,
        registry: CollectorRegistry,
        *,
        prefix: str,
        lateness: float,
        clock: Clock,
    ) -> None:
        self.path = path
        self.engine = Engine(
            load_policy(path),  # RuleFileError: the candidate has mistakes
            prefix=prefix,
            lateness=lateness,
            clock=clock,
            routing_audit=False,
            durable=False,
        )
        self._connection = connection
        #: Where its pages are written as JSONL too (``--shadow-pages``), if anywhere.
        self.pages: IO[str] | None = None
        self._counted = Counter(
            "sensorhub_shadow_pages",
            "Pages of serve --shadow's candidate rules beside the live ones, by incident kind "
            "and verdict: agree (both send it), live_only, shadow_only.",
            ["kind", "verdict"],
            registry=registry,
        )
        # pages still waiting for their partner: side -> key -> the page
        self._waiting: dict[str, dict[PageKey, Page]] = {"live": {}, "shadow": {}}

    def round(
        self,
        messages: Sequence[InboundMessage],
        tick: float | None,
        drain: bool,
        acks: Sequence[AckIn],
        live: Sequence[Page],
    ) -> None:
        """Decide what the live round decided, publish what the candidate pages, and count
        both sides' pages against each other (``live``: the live round's pages)."""
        work = self.engine.round(messages, tick=tick, drain=drain, acks=acks)
        for page in work.pages:
            topic = f"{SHADOW_TOPIC}/{page.site}/{page.recipient}"
            self._connection.publish(topic, page.model_dump_json().encode("utf-8"), qos=0)
        if self.pages is not None and work.pages:
            self.pages.write("".join(page.model_dump_json() + "\n" for page in work.pages))
            self.pages.flush()
        self._pair(live, "live", "shadow")
        self._pair(work.pages, "shadow", "live")
        self._expire(self.engine.classifier.clock)

    def _pair(self, pages: Sequence[Page], side: str, other: str) -> None:
        waiting, partners = self._waiting[side], self._waiting[other]
        for page in pages:
            key = page_key(page)
            if partners.pop(key, None) is not None:
                self._counted.labels(kind=page.kind, verdict="agree").inc()
            else:
                waiting[key] = page

    def _expire(self, clock: float) -> None:
        for side, waiting in self._waiting.items():
            gone = [key for key, page in waiting.items() if page.ts + PARTNER_WAIT < clock]
            for key in gone:
                self._counted.labels(kind=waiting.pop(key).kind, verdict=f"{side}_only").inc()

    def restore_silences(self, state: dict[str, Any]) -> None:
        """The silences the live engine took up (``sensorhub mute``), for the shadow too."""
        self.engine.silences.restore(state)

    def snapshot(self) -> dict[str, Any]:
        return self.engine.snapshot()

    def resume(self, snapshot: Mapping[str, Any] | None, journal: Sequence[JournalEntry]) -> None:
        """The classifier of the last run's shadow, and the journal given back to it."""
        resumed = self.engine.resume(snapshot, journal, ())
        if snapshot is not None and not resumed.classifier:
            logger.warning(
                "shadow: the saved candidate classifier is not taken up (%s): it starts afresh",
                resumed.why_not,
            )

    def reload(self) -> None:
        """Read the candidate again; keep the one in force if it has mistakes (said)."""
        try:
            self.engine.reload(load_policy(self.path))
        except (RuleFileError, ValueError) as error:
            logger.error(  # noqa: TRY400 - the errors are the message, not a traceback
                "shadow: %s has mistakes, the candidate in force stays:\n%s", self.path, error
            )
            return
        logger.info("shadow: read the candidate rules %s again", self.path)
