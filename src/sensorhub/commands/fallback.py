"""The safety net: while sensorhub is down, page every conventional alarm, unfiltered.

Run it beside `sensorhub serve`, ideally on another machine, as its own service. It watches
sensorhub's retained status on sensorhub/status and stays silent while sensorhub is online.
When sensorhub is down (its status is offline, by a clean stop or its last will, or there is
no online status) for --grace seconds, the relay turns active: every event on PREFIX/# that a
conventional alarm system would sound for (a fall, a resident call, out of bed, sitting on the
bed edge, a bed mat vacated, leaving the room; a door or motion only where the resident
wanders; sound at or above the room's threshold) is paged at once, without confirmation
windows or staff-presence rules, to the room's care team on
sensorhub/pages/<site>/<recipient>, QoS 1, with a text that starts with UNFILTERED (Dutch:
ONGEFILTERD) and an incident id that starts with fallback/. Alarms that came in during the
grace period are paged then, if sensorhub did not come back. Device faults are not paged. At
most one page per device and alarm per 30 s (of event time). As soon as sensorhub says online
again, the relay is silent.

Its own state is kept retained on sensorhub/fallback/status: {"state": "standby"|"active",
"since": ...}, and {"state": "offline"} (its last will, or a clean stop). Each switch is logged
at WARNING. It never writes sensorhub/status.

The broker options are those of `sensorhub serve`; give the relay a client id of its own (the
default is sensorhub-fallback-<hostname>) and the site's rule file (for recipients, language,
who wanders and the sound threshold).

Examples:
  sensorhub fallback --broker mqtts://broker.site.local --username sensorhub-fallback \\
      --cafile /etc/sensorhub/site-ca.pem --rules /etc/sensorhub/site.yaml
  sensorhub fallback --broker mqtt://127.0.0.1:1883 --grace 10s   # a test bench
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import socket
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

from sensorhub.codec.payload import decode_mqtt
from sensorhub.commands.signals import stopped_by_signals
from sensorhub.contract import DEFAULT_PREFIX, Event, IncidentKind, Page, check_prefix
from sensorhub.core.care import (
    CONVENTIONAL_ALARMS,
    CONVENTIONAL_LOUD_ONLY,
    CONVENTIONAL_WANDERERS_ONLY,
)
from sensorhub.durations import (
    DURATION_EXAMPLES,
    DURATION_GUIDE,
    duration_argument,
    format_duration,
)
from sensorhub.io.inbox import InboundMessage, Inbox
from sensorhub.io.mqtt import STATUS_TOPIC, MqttConnection, MqttSettings, MqttSettingsError
from sensorhub.io.mqtt_cli import add_broker_arguments, mqtt_settings
from sensorhub.routing.pages import PRIORITY
from sensorhub.rules import RuleFileError, load_policy
from sensorhub.rules.policy import Policy, RoomPolicy

logger = logging.getLogger(__name__)

#: The relay's own retained state: standby, active, or offline (its last will).
FALLBACK_STATUS_TOPIC: Final = "sensorhub/fallback/status"
#: Default of --grace (s): how long sensorhub must be down before the relay pages.
DEFAULT_GRACE: Final = 30.0
#: At most one page per device and alarm this often (s of event time): a sensor that repeats
#: itself is paged once, a different alarm of the same device (a fall after out of bed) is not
#: held back. Shorter than the classifier's ``CONVENTIONAL_REARM``: never fewer pages than a
#: conventional system would sound.
REARM: Final = 30.0
#: Alarms held during the grace period are paged when the relay turns active if their event
#: time is at most grace + this long ago (s). Older ones can only come from the relay's own
#: backlog after it was down itself: paging them would flood staff with stale alarms.
HELD_MAX_AGE: Final = 60.0
#: Alarms held during the grace period, at most (the oldest are dropped, with a warning).
HELD_MAX: Final = 10_000
#: How long the loop waits for a message before it looks at the clock again (s).
POLL_INTERVAL: Final = 0.1
#: Messages handled a turn of the loop at most (the rest in the next turns).
MAX_BATCH: Final = 2000
#: While active, a reminder is logged this often (s).
REMIND_INTERVAL: Final = 600.0
#: Re-arm entries kept before the old ones are pruned.
REARM_KEYS_MAX: Final = 100_000

State = Literal["standby", "active"]

#: The page kind of each conventional alarm (kind, event). Every alarm of the classifier's
#: ``CONVENTIONAL_ALARMS`` has one (a test holds them together).
ALARM_KINDS: Final[dict[tuple[str, str], IncidentKind]] = {
    ("optical", "fall"): "fall",
    ("optical", "on_floor"): "fall",
    ("call", "pressed"): "call",
    ("optical", "sitting_on_edge"): "bed_exit",
    ("optical", "out_of_bed"): "bed_exit",
    ("bed", "vacated"): "bed_exit",
    ("optical", "left_room"): "wandering",
    ("door", "open"): "wandering",
    ("motion", "motion"): "wandering",
    ("acoustic", "sound"): "acoustic",
}

#: Pager texts by language: what the sensor reported, marked unfiltered. ``{room}`` and
#: ``{level}`` (sound level in dB(A)) are filled in.
TEXTS: Final[dict[str, dict[tuple[str, str], str]]] = {
    "en": {
        ("optical", "fall"): "UNFILTERED Room {room}: FALL",
        ("optical", "on_floor"): "UNFILTERED Room {room}: FALL (on floor)",
        ("call", "pressed"): "UNFILTERED Room {room}: resident call",
        ("optical", "sitting_on_edge"): "UNFILTERED Room {room}: sitting on bed edge",
        ("optical", "out_of_bed"): "UNFILTERED Room {room}: out of bed",
        ("bed", "vacated"): "UNFILTERED Room {room}: out of bed (bed mat)",
        ("optical", "left_room"): "UNFILTERED Room {room}: left the room",
        ("door", "open"): "UNFILTERED Room {room}: door open",
        ("motion", "motion"): "UNFILTERED Room {room}: motion",
        ("acoustic", "sound"): "UNFILTERED Room {room}: sound {level} dB",
    },
    "nl": {
        ("optical", "fall"): "ONGEFILTERD Kamer {room}: VAL",
        ("optical", "on_floor"): "ONGEFILTERD Kamer {room}: VAL (op de grond)",
        ("call", "pressed"): "ONGEFILTERD Kamer {room}: oproep bewoner",
        ("optical", "sitting_on_edge"): "ONGEFILTERD Kamer {room}: zit op bedrand",
        ("optical", "out_of_bed"): "ONGEFILTERD Kamer {room}: uit bed",
        ("bed", "vacated"): "ONGEFILTERD Kamer {room}: uit bed (bedmat)",
        ("optical", "left_room"): "ONGEFILTERD Kamer {room}: kamer verlaten",
        ("door", "open"): "ONGEFILTERD Kamer {room}: deur open",
        ("motion", "motion"): "ONGEFILTERD Kamer {room}: beweging",
        ("acoustic", "sound"): "ONGEFILTERD Kamer {room}: geluid {level} dB",
    },
}


# -- the decisions, without I/O ------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    """What one step of the relay decided."""

    #: pages to publish now
    pages: list[Page] = field(default_factory=list)
    #: the relay turned active or went back to standby
    switched: bool = False
    #: alarms held during the grace period and not paged: too old (see ``HELD_MAX_AGE``)
    dropped: int = 0


class Fallback:
    """The relay's decisions: sensorhub's state, the grace period, which events to page.

    No I/O and no clock of its own: ``now`` is a monotonic time in seconds (the grace period
    must not stretch or shrink when the wall clock is set), ``wall`` the Unix time, used only
    to tell stale held alarms (``HELD_MAX_AGE``).

    - ``status(payload, now, wall)``: a message on sensorhub/status (retained or new). Only
      ``{"state": "online", ...}`` counts as online; anything else (offline, the last will, an
      empty retained message, garbage) counts as down from then on.
    - ``event(event, now, wall)``: a valid sensor event. Paged while active; held while
      sensorhub is down but the grace period runs; ignored while sensorhub is online.
    - ``tick(now, wall)``: time passes; the relay turns active once sensorhub has been down for
      ``grace`` seconds (or has said nothing for ``grace`` seconds since ``started``).
    """

    def __init__(self, policy: Policy, *, grace: float, started: float) -> None:
        if grace < 0:
            raise ValueError("the grace period must not be negative")
        self.policy = policy
        self.grace = grace
        self.active = False
        #: sensorhub said online (and has not said otherwise since)
        self.online = False
        #: since when (monotonic) sensorhub is down or unheard of; None while online
        self.down_since: float | None = started
        #: what sensorhub last said, for the log
        self.reason = f"silent: no status on {STATUS_TOPIC} yet"
        #: pages held while the grace period runs
        self._held: list[Page] = []
        self._last: dict[tuple[str, str, str, str, str], float] = {}

    @property
    def state(self) -> State:
        return "active" if self.active else "standby"

    def status(self, payload: bytes, now: float, wall: float) -> Outcome:
        state, since = _parse_status(payload)
        if state == "online":
            self.reason = "online" + (f" since {_clock(since)}" if since is not None else "")
            if self.online:
                return Outcome()
            self.online = True
            self.down_since = None
            self._held.clear()  # sensorhub takes them from its own session
            self._last.clear()
            switched, self.active = self.active, False
            return Outcome(switched=switched)
        if not payload:
            self.reason = f"silent: its status on {STATUS_TOPIC} was removed"
        elif state is None:
            self.reason = f"reporting an unreadable status {payload[:80]!r}"
        else:
            self.reason = state + (f" since {_clock(since)}" if since is not None else "")
        if self.online or self.down_since is None:
            self.online = False
            self.down_since = now
        return self.tick(now, wall)

    def event(self, event: Event, now: float, wall: float) -> Outcome:
        if self.online:
            return Outcome()
        page = self._alarm(event)
        if page is None:
            return Outcome()
        if self.active:
            return Outcome(pages=[page])
        self._held.append(page)
        dropped = 0
        if len(self._held) > HELD_MAX:
            dropped = len(self._held) - HELD_MAX
            del self._held[:dropped]
        return Outcome(dropped=dropped)

    def tick(self, now: float, wall: float) -> Outcome:
        if self.active or self.down_since is None or now - self.down_since < self.grace:
            return Outcome()
        self.active = True
        horizon = wall - self.grace - HELD_MAX_AGE
        pages = [page for page in self._held if page.ts >= horizon]
        dropped = len(self._held) - len(pages)
        self._held.clear()
        return Outcome(pages=pages, switched=True, dropped=dropped)

    def _alarm(self, event: Event) -> Page | None:
        """The unfiltered page a conventional system would sound for ``event``, if any."""
        if event.event not in CONVENTIONAL_ALARMS.get(event.kind, ()):
            return None
        room = self.policy.room(event.site, event.room)
        if event.kind in CONVENTIONAL_WANDERERS_ONLY and not room.wanders:
            return None
        if event.kind in CONVENTIONAL_LOUD_ONLY and (
            event.value is None or event.value < room.acoustic_threshold
        ):
            return None
        key = (event.site, event.room, event.kind, event.device, event.event)
        last = self._last.get(key)
        if last is not None and abs(event.ts - last) < REARM:
            return None
        self._last[key] = event.ts
        if len(self._last) > REARM_KEYS_MAX:
            self._last = {k: t for k, t in self._last.items() if abs(event.ts - t) < REARM}
        kind = ALARM_KINDS.get((event.kind, event.event))
        if kind is None:  # an alarm added to the classifier without a page kind here
            logger.error(
                "no fallback page kind for the conventional alarm %s %s: paged as a call; "
                "please report this",
                event.kind,
                event.event,
            )
            kind = "call"
        return unfiltered_page(room, event, kind)


def unfiltered_page(room: RoomPolicy, event: Event, kind: IncidentKind) -> Page:
    """The fallback page for a conventional alarm: first (and only) page of its own incident."""
    texts = TEXTS.get(room.language, TEXTS["en"])
    template = texts.get((event.kind, event.event), texts[("call", "pressed")])
    level = "?" if event.value is None else f"{event.value:.0f}"
    incident = (
        f"fallback/{event.site}/{event.room}/{kind}/{event.device}/{event.event}/"
        f"{round(event.ts * 1000)}"
    )
    return Page(
        page_id=f"{incident}/0",
        incident=incident,
        site=event.site,
        room=event.room,
        kind=kind,
        priority=PRIORITY[kind],
        audience="care",
        ts=event.ts,
        escalation=0,
        recipient=room.recipient("care"),
        text=template.format(room=event.room, level=level),
        events=[event.ref],
    )


def _parse_status(payload: bytes) -> tuple[str | None, float | None]:
    """``(state, since)`` of a status message; ``(None, None)`` if it is not one."""
    try:
        body = json.loads(payload)
    except ValueError:
        return None, None
    if not isinstance(body, dict) or not isinstance(body.get("state"), str):
        return None, None
    since = body.get("since")
    if isinstance(since, bool) or not isinstance(since, int | float):
        return body["state"], None
    return body["state"], float(since)


def _clock(wall: float) -> str:
    """A Unix time as local date and time with its offset, for the log."""
    return datetime.fromtimestamp(wall, UTC).astimezone().isoformat(sep=" ", timespec="seconds")


def _state_payload(state: str, since: float | None = None) -> bytes:
    body: dict[str, object] = {"state": state}
    if since is not None:
        body["since"] = round(since, 3)
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


# -- the relay on a broker -----------------------------------------------------------------------


class Relay:
    """``Fallback`` on an MQTT connection: status and events in, unfiltered pages out.

    One connection, with its own client id and a persistent session, subscribed to
    sensorhub/status and PREFIX/# all along: events are there the moment sensorhub is down,
    nothing is lost while the relay's own connection drops for a moment, and the retained
    status is delivered again on every reconnect. ``run_forever(stop)`` runs until ``stop``
    is set.
    """

    def __init__(
        self,
        policy: Policy,
        mqtt: MqttSettings,
        *,
        prefix: str = DEFAULT_PREFIX,
        grace: float = DEFAULT_GRACE,
    ) -> None:
        check_prefix(prefix)
        self.prefix = prefix
        self.core = Fallback(policy, grace=grace, started=time.monotonic())
        self.since = time.time()  # of the relay's own state
        self.inbox = Inbox()
        # announce=False: the relay must never write sensorhub/status, nor leave a will there;
        # its own will is on its own status topic
        self.connection = MqttConnection(
            dataclasses.replace(
                mqtt, announce=False, will=(FALLBACK_STATUS_TOPIC, _state_payload("offline"))
            ),
            [STATUS_TOPIC, f"{prefix}/#"],
            self.inbox,
        )
        #: valid sensor events taken so far, whatever the state (tests wait on it)
        self.events = 0
        #: unfiltered pages published so far
        self.paged = 0
        self._retained_topics: set[str] = set()
        self._was_connected = False
        self._remind_at: float | None = None  # while active: when to say so again

    @property
    def state(self) -> State:
        return self.core.state

    def run_forever(self, stop: threading.Event) -> None:
        self.connection.start()
        logger.info(
            "sensorhub fallback: on standby, watching %s; pages every conventional alarm on "
            "%s/# unfiltered once sensorhub has been down for %g s",
            STATUS_TOPIC,
            self.prefix,
            self.core.grace,
        )
        try:
            while not stop.is_set():
                try:
                    self._round()
                except Exception:
                    logger.exception("sensorhub fallback failed on one step and goes on")
        finally:
            logger.info("sensorhub fallback: stopping (%s)", self.state)
            if self.connection.connected:
                self.connection.publish(
                    FALLBACK_STATUS_TOPIC,
                    _state_payload("offline", time.time()),
                    qos=1,
                    retain=True,
                )
            self.connection.stop()

    def _round(self) -> None:
        """Take what has arrived, let time pass, keep the relay's own state on the broker."""
        self._handle_messages()
        self._apply(self.core.tick(time.monotonic(), time.time()))
        connected = self.connection.connected
        if connected and not self._was_connected:
            # after each (re)connect: our state replaces our last will, if the broker sent it
            self._publish_state()
        self._was_connected = connected
        now = time.monotonic()
        if not self.core.active:
            self._remind_at = None
        elif self._remind_at is None:
            self._remind_at = now + REMIND_INTERVAL
        elif now >= self._remind_at:
            self._remind_at = now + REMIND_INTERVAL
            logger.warning(
                "fallback still ACTIVE since %s: sensorhub is %s; %d unfiltered page(s) so far",
                _clock(self.since),
                self.core.reason,
                self.paged,
            )

    def _handle_messages(self) -> None:
        for message in self.inbox.take(MAX_BATCH, POLL_INTERVAL):
            try:
                self._apply(self._handle(message))
            except Exception:
                logger.exception("sensorhub fallback failed on one message and goes on")

    def _handle(self, message: InboundMessage) -> Outcome:
        now, wall = time.monotonic(), time.time()
        if message.topic == STATUS_TOPIC:
            return self.core.status(message.payload, now, wall)
        if message.retained:
            # the broker's old copy, not an alarm now; serve ignores these too
            if message.topic not in self._retained_topics:
                self._retained_topics.add(message.topic)
                logger.debug("ignoring a retained message on %s", message.topic)
            return Outcome()
        decoded = decode_mqtt(message.topic, message.payload, message.received_at, self.prefix)
        if not isinstance(decoded, Event):
            # bad input is sensorhub's to dead-letter; the relay only passes alarms on
            logger.debug("ignoring bad input on %s: %s", message.topic, decoded.error)
            return Outcome()
        self.events += 1
        return self.core.event(decoded, now, wall)

    def _apply(self, outcome: Outcome) -> None:
        if outcome.switched:
            self.since = time.time()
            if self.core.active:
                logger.warning(
                    "fallback ACTIVE at %s: sensorhub is %s, down for over %g s; every "
                    "conventional alarm is now paged UNFILTERED to the care staff",
                    _clock(self.since),
                    self.core.reason,
                    self.core.grace,
                )
            else:
                logger.warning(
                    "fallback on STANDBY at %s: sensorhub is %s; pages come from sensorhub "
                    "only (%d unfiltered page(s) were sent)",
                    _clock(self.since),
                    self.core.reason,
                    self.paged,
                )
            self._publish_state()
        if outcome.dropped:
            logger.warning(
                "%d alarm(s) that came in while sensorhub was down were not paged: older than "
                "%g s (the relay's own backlog) or too many",
                outcome.dropped,
                self.core.grace + HELD_MAX_AGE,
            )
        for page in outcome.pages:
            self.connection.publish(page.topic, page.model_dump_json().encode("utf-8"), qos=1)
            self.paged += 1
            logger.info(
                "unfiltered page %s: room %s/%s kind %s priority %s to %s",
                page.page_id,
                page.site,
                page.room,
                page.kind,
                page.priority,
                page.recipient,
            )

    def _publish_state(self) -> None:
        self.connection.publish(
            FALLBACK_STATUS_TOPIC, _state_payload(self.state, self.since), qos=1, retain=True
        )


# -- the command ---------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_broker_arguments(
        parser,
        broker_help="mqtt://host[:port] or mqtts://host[:port] (TLS): the site's broker, the "
        "one sensorhub serve uses",
        client_id_default=f"sensorhub-fallback-{socket.gethostname()}",
        client_id_help="MQTT client id of the relay: its own, never sensorhub's; keep it "
        "fixed (default: sensorhub-fallback-<hostname>)",
        broker_required=True,
    )
    relay = parser.add_argument_group("relay")
    relay.add_argument(
        "--rules",
        type=Path,
        metavar="FILE",
        help="the site's rule file, as given to serve: recipients, language, who wanders, "
        "sound threshold (default: the shipped policy)",
    )
    relay.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help=f"topic prefix of sensor events, as given to serve (default {DEFAULT_PREFIX})",
    )
    relay.add_argument(
        "--grace",
        type=duration_argument,  # never negative: 0 pages at once
        default=DEFAULT_GRACE,
        metavar="DURATION",
        help="page only once sensorhub has been down this long, so that a restart of serve "
        f"does not page staff: a duration, e.g. {DURATION_EXAMPLES} (see {DURATION_GUIDE}; "
        f"default {format_duration(DEFAULT_GRACE)})",
    )


def run(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.rules)
    except RuleFileError as error:
        print(f"sensorhub fallback: the rule file has mistakes:\n{error}", file=sys.stderr)
        return 2
    try:
        settings = mqtt_settings(args, args.broker)
        relay = Relay(policy, settings, prefix=args.prefix, grace=args.grace)
    except (MqttSettingsError, ValueError) as error:
        print(f"sensorhub fallback: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # paho reads the TLS files when the client is made
        print(f"sensorhub fallback: cannot set up TLS: {error}", file=sys.stderr)
        return 2
    with ExitStack() as resources:
        stop = stopped_by_signals(resources)
        relay.run_forever(stop)
    return 0
