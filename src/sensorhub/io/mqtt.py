"""The MQTT adapter: the only module that imports paho.

``MqttConnection`` keeps one connection to the broker alive and turns every paho message into the
project's own ``InboundMessage`` at the boundary, so nothing beyond this file knows paho exists.

What it does so that no event is lost while the service or the broker is away:

- MQTT 3.1.1 with ``clean_session=False`` and a stable client id: the broker keeps our session
  (subscriptions and the QoS 1 messages that arrive meanwhile) while we are disconnected
  (``MqttSettings.clean_session`` turns this off for a throwaway listener);
- subscriptions (QoS 1) are made again in ``on_connect``, so they are back after every reconnect
  even if the broker lost the session;
- publishes while disconnected are queued without limit and sent after the reconnect, in
  order; ``publish(..., on_delivered=...)`` says when the broker has acknowledged one (PUBACK),
  so a caller with a durable outbox can confirm the page there;
- with ``manual_ack=True`` a received message is acknowledged to the broker only when the
  caller says so (``ack(messages)``), after it has made the message durable: a message the
  service received but had not yet written down when it was killed is sent again by the broker;
- it reconnects by itself, waiting 1 s, 2 s, 4 s ... at most 30 s between attempts;
- paho reads a packet in three socket calls (its first byte, its length, the rest), one packet
  per round of its network loop; ``_BufferedSocket`` reads the socket in blocks instead and
  hands paho those calls from memory (the way paho already reads TLS records that arrived
  together), and ``_Client`` reads on while a block holds more packets. The PUBLISH packets of
  a block are parsed here (``split_publishes``) and handed to the inbox together, without
  paho's per-packet parsing and message objects; acknowledgements of a batch of messages go
  out as one write (``ack_all``). A burst of messages so costs a few system calls and a few
  microseconds each;
- a retained last will ``{"state":"offline"}`` on ``sensorhub/status`` tells monitoring when the
  service is gone; ``{"state":"online","since":...}`` replaces it on every connect, unless the
  service said offline while it runs (``set_status``: its store cannot be written). Only the
  service's own connection says this (``MqttSettings.announce``): any other client, such as the
  demo's page listener, leaves the service's status alone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, cast
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from sensorhub.io.inbox import InboundMessage, Inbox

logger = logging.getLogger(__name__)

#: Retained status of the service: online (since when) or offline (also the last will).
STATUS_TOPIC: Final = "sensorhub/status"
#: Environment variable that holds the broker password.
PASSWORD_ENV: Final = "SENSORHUB_MQTT_PASSWORD"  # noqa: S105 - the name of the variable, not a secret
DEFAULT_PORTS: Final = {"mqtt": 1883, "mqtts": 8883}
DEFAULT_KEEPALIVE: Final = 30
RECONNECT_MIN_DELAY: Final = 1
RECONNECT_MAX_DELAY: Final = 30
#: QoS 1 messages sent but not yet acknowledged, at most (paho queues the rest in order).
DEFAULT_MAX_INFLIGHT: Final = 100
#: Acknowledgements remembered for publishes whose callback was not yet registered, at most.
EARLY_MARKS: Final = 1000
#: How long ``stop()`` waits for queued publishes (pages, the offline status) to be acknowledged.
STOP_FLUSH_TIMEOUT: Final = 3.0


class MqttSettingsError(ValueError):
    """The broker settings are not usable; the message says what to change."""


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """TLS to the broker. Without ``cafile`` the system's trusted CAs are used."""

    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    #: Do not check the broker's certificate host name (test setups only).
    insecure: bool = False


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where the broker is and how to log in. The password never comes from a rule file."""

    host: str
    port: int
    client_id: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsSettings | None = None
    keepalive: int = DEFAULT_KEEPALIVE
    #: This is the service's connection: a retained last will ``offline`` on ``STATUS_TOPIC``,
    #: ``online`` on every connect and ``offline`` on ``stop()``. Any other client (a listener,
    #: a tool) sets False, or it would overwrite the service's status with its own.
    announce: bool = True
    #: A retained last will ``(topic, payload)`` of a client of its own (``announce`` False),
    #: such as the fallback relay's status; the service's will is its status (``announce``).
    will: tuple[str, bytes] | None = None
    #: With ``announce``: also say ``online``/``offline`` as plain text (retained) on this topic
    #: whenever the status is said (``serve --homeassistant``). Not a will: MQTT gives a
    #: connection one, the JSON status; after a crash this topic still says ``online``.
    availability: str | None = None
    #: Start a new session on every connect and have the broker forget it on disconnect: nothing
    #: is queued while away. For throwaway listeners; the service keeps its session (False).
    clean_session: bool = False
    #: QoS 1 messages on the wire awaiting the broker's acknowledgement, at most; more are
    #: queued by paho and sent as acknowledgements come. A bulk publisher may raise it.
    max_inflight: int = DEFAULT_MAX_INFLIGHT

    @property
    def url(self) -> str:
        scheme = "mqtts" if self.tls is not None else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        tls: TlsSettings | None = None,
        keepalive: int = DEFAULT_KEEPALIVE,
    ) -> MqttSettings:
        """Settings from ``mqtt://[user@]host[:port]`` or ``mqtts://...`` (TLS, port 8883).

        ``tls`` turns TLS on for an ``mqtt://`` URL too; an ``mqtts://`` URL without it uses
        the system's trusted CAs.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise MqttSettingsError(
                f"broker URL {url!r} must start with mqtt:// or mqtts:// "
                "(e.g. mqtt://broker.local:1883)"
            )
        if parts.password is not None:
            raise MqttSettingsError(
                "do not put the broker password in the URL (it shows in the process list): "
                f"set {PASSWORD_ENV} or use --password-file"
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise MqttSettingsError(f"broker URL {url!r} must be only mqtt[s]://host[:port]")
        host = parts.hostname
        if not host:
            raise MqttSettingsError(f"broker URL {url!r} names no host")
        try:
            port = parts.port
        except ValueError as error:
            raise MqttSettingsError(f"broker URL {url!r}: {error}") from None
        if tls is None and scheme == "mqtts":
            tls = TlsSettings()
        if port is None:
            port = DEFAULT_PORTS["mqtts" if tls is not None else "mqtt"]
        username = username or parts.username or None
        if password is not None and username is None:
            raise MqttSettingsError(
                "a broker password is set but no user name: give --username "
                "(or mqtt://USER@host in --broker)"
            )
        if not 0 < keepalive <= 65535:
            raise MqttSettingsError(f"keepalive must be 1..65535 s, not {keepalive}")
        if not client_id or len(client_id.encode("utf-8")) > 65535:
            raise MqttSettingsError("the MQTT client id must not be empty")
        return cls(host, port, client_id, username, password, tls, keepalive)


#: Bytes read from the broker's socket per system call at most (``_BufferedSocket``).
READ_BLOCK: Final = 1 << 18
#: Packets paho's loop reads in one round at most, beyond the first, while a block holds more.
READ_BURST: Final = 1000
_PUBACK: Final = struct.Struct("!BBH")
_PUBACK_HEAD: Final = int(paho.PUBACK)
_PUBLISH: Final = int(paho.PUBLISH)


def split_publishes(block: bytes, at: int, received_at: float) -> tuple[list[InboundMessage], int]:
    """The whole PUBLISH packets (MQTT 3.1.1, QoS 0 or 1) in ``block`` from ``at`` on, up to
    the first that is another packet, QoS 2, malformed or not whole; and where that one starts
    (paho reads it, and says what is wrong with it)."""
    messages: list[InboundMessage] = []
    end = len(block)
    while at < end:
        head = block[at]
        qos = (head >> 1) & 3
        if head & 0xF0 != _PUBLISH or qos > 1:
            break
        # the remaining length: 7 bits a byte, the last byte below 128, at most 4 bytes
        length = shift = 0
        start = at + 1
        while start < end and shift < 28:
            byte = block[start]
            start += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        else:
            break
        stop = start + length
        if length < 2 or stop > end:
            break
        topic_end = start + 2 + (block[start] << 8 | block[start + 1])
        body = topic_end + 2 * qos  # a QoS 1 message has its id before the payload
        if body > stop:
            break
        try:
            topic = block[start + 2 : topic_end].decode("utf-8")
        except UnicodeDecodeError:  # the broker should refuse these; never die on one
            topic = block[start + 2 : topic_end].decode("utf-8", errors="replace")
        mid = block[topic_end] << 8 | block[topic_end + 1] if qos else 0
        messages.append(
            InboundMessage(topic, block[body:stop], received_at, bool(head & 1), mid, qos)
        )
        at = stop
    return messages, at


class _BufferedSocket:
    """The broker's socket, read a block at a time: paho's small ``recv`` calls are answered
    from what the last block brought, and ``pending()`` tells paho's loop that there is more to
    read without waiting in ``select`` (paho asks it of TLS sockets, whose records hold bytes
    that ``select`` cannot see). Everything else is the socket's own."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buffer = b""
        self._at = 0

    def recv(self, size: int) -> bytes:
        if self._at >= len(self._buffer):
            block = self._sock.recv(max(size, READ_BLOCK))
            if len(block) <= size:  # all of it asked for (or the end of the stream)
                return cast(bytes, block)
            self._buffer, self._at = block, 0
        start = self._at
        self._at = min(start + size, len(self._buffer))
        return self._buffer[start : self._at]

    def pending(self) -> int:
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        return len(self._buffer) - self._at + inner

    def publishes(self) -> list[InboundMessage]:
        """The whole PUBLISH packets next in the block (``split_publishes``), taken out of it."""
        messages, self._at = split_publishes(self._buffer, self._at, time.time())
        return messages

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Client(paho.Client):
    """paho's client on a ``_BufferedSocket``, reading every whole packet a block brought in
    one round of its loop, and acknowledging many messages in one packet write.

    The messages of a block go to ``on_messages`` in one call, parsed here
    (``split_publishes``): paho's reading, parsing and ``MQTTMessage`` of each packet were
    the largest part of what ``serve`` spent per message. Every other packet, and a PUBLISH cut
    in two by the end of a block, paho reads as ever.

    It relies on paho 2's internals (``_create_socket``, ``_sock``, ``_in_packet``,
    ``_packet_queue``), hence the upper bound on paho in pyproject.toml;
    ``tests/test_serve.py`` runs every path of it against a real broker."""

    #: Where the messages of a block go, in one call (``MqttConnection`` sets it); without it
    #: paho hands each to ``on_message``.
    on_messages: Callable[[list[InboundMessage]], None] | None = None

    def _create_socket(self) -> Any:
        sock: Any = super()._create_socket()
        # A page is a small write: with Nagle's algorithm it waited for the broker's ACK of
        # what went before (the round's PUBACKs), which the broker's kernel may delay 40 ms.
        with contextlib.suppress(OSError, AttributeError):  # not TCP: nothing to turn off
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _BufferedSocket(sock)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        for _ in range(READ_BURST):
            sock = self._sock
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or not isinstance(sock, _BufferedSocket):
                break
            self._read_publishes(sock)
            if not sock.pending():
                break
            rc = super().loop_read(max_packets)
        return rc

    def _read_publishes(self, sock: _BufferedSocket) -> None:
        """Hand the whole PUBLISH packets next in ``sock``'s block to ``on_messages``, as paho
        would have handed them to ``on_message`` one by one (and acknowledged them, unless
        ``manual_ack``)."""
        on_messages = self.on_messages
        if on_messages is None or self._in_packet["command"] != 0:  # paho is amid a packet
            return
        messages = sock.publishes()
        if not messages:
            return
        # the ids first: the inbox may set a message's QoS to 0 (its low lane acknowledged it)
        mids = [] if self._manual_ack else [m.mid for m in messages if m.qos == 1]
        with self._in_callback_mutex:
            on_messages(messages)
        self.ack_all(mids)

    def _handle_on_message(self, message: paho.MQTTMessage) -> None:
        """Straight to ``on_message``: sensorhub adds no per-topic callbacks (see
        ``message_callback_add``), so paho's matching of every topic against them, a walk of a
        tree of topic levels for each message, is skipped."""
        on_message = self.on_message
        if on_message is not None:
            with self._in_callback_mutex:
                on_message(self, self._userdata, message)

    def message_callback_add(self, sub: str, callback: Any) -> None:
        raise TypeError("sensorhub's MQTT client hands every message to on_message")

    def ack_all(self, mids: list[int]) -> None:
        """PUBACK each of ``mids`` (QoS 1, ``manual_ack``): as paho's ``ack`` of each, in one
        write."""
        if mids:
            packets = b"".join([_PUBACK.pack(_PUBACK_HEAD, 2, mid) for mid in mids])
            self._packet_queue(paho.PUBACK, packets, 0, 0)


class MqttConnection:
    """One broker connection: subscribe, receive into ``inbox``, publish at QoS 1.

    ``start()`` returns at once; the connection is made (and remade) by paho's network thread.
    ``publish`` may be called from any thread, connected or not.
    """

    def __init__(
        self,
        settings: MqttSettings,
        subscriptions: list[str],
        inbox: queue.Queue[InboundMessage] | Inbox,
        *,
        log: logging.Logger | None = None,
        manual_ack: bool = False,
    ) -> None:
        self.settings = settings
        #: Where the connection logs (and paho's debug trace, under ``<log>.paho``); a client
        #: other than the service may pass a logger of its own to set how much it says.
        self.log = log or logger
        self.subscriptions = list(subscriptions)
        self.inbox = inbox
        self._connected = threading.Event()  # CONNACK received
        self._subscribed = threading.Event()  # ... and the broker acknowledged the subscriptions
        self._stopping = False
        self._disconnecting = False  # stop() asked paho to disconnect
        self._ever_connected = False
        self._connect_error: OSError | None = None
        #: Why the latest connection attempt failed (refused, or unreachable), for a client
        #: that reports it itself; None once connected.
        self.last_failure: str | None = None
        self._unacked = 0  # publishes not yet acknowledged (QoS 1) or sent (QoS 0)
        self._unacked_changed = threading.Condition()
        # mid -> what to call when the broker acknowledges that publish; mids acknowledged
        # before publish() could register theirs (the network thread may be that quick)
        self._on_delivered: dict[int, Callable[[], None]] = {}
        self._delivered_early: set[int] = set()
        self.manual_ack = manual_ack
        # what the service's status says on every connect (``announce``): see ``set_status``
        self._status: tuple[str, float | None, str | None] = ("online", None, None)
        self._client = self._make_client()

    # -- public --------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background and keep reconnecting until ``stop()``."""
        self._stopping = False
        self._disconnecting = False
        self.log.info(
            "connecting to MQTT broker %s as client id %r",
            self.settings.url,
            self.settings.client_id,
        )
        self._client.connect_async(
            self.settings.host, self.settings.port, keepalive=self.settings.keepalive
        )
        self._client.loop_start()

    @property
    def unacknowledged(self) -> int:
        """Publishes so far that the broker has not yet acknowledged (QoS 1) or taken (QoS 0)."""
        with self._unacked_changed:
            return self._unacked

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until connected and subscribed (the broker acknowledged); False on timeout."""
        return self._subscribed.wait(timeout)

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        *,
        retain: bool = False,
        on_delivered: Callable[[], None] | None = None,
    ) -> None:
        """Publish, or queue the message until the connection is back (nothing is dropped).

        ``on_delivered`` is called (on the network thread) once the broker has acknowledged it.
        """
        with self._unacked_changed:  # counted first: the acknowledgement may come at once
            self._unacked += 1
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos == 0:
            self.log.debug("not connected: QoS 0 message to %s dropped", topic)
            self._acknowledged(info.mid)  # paho keeps no QoS 0 message for the reconnect
            return
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            self.log.debug("not connected: message to %s queued until the reconnect", topic)
        elif info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self.log.error("could not publish to %s: %s", topic, paho.error_string(info.rc))
            self._acknowledged(info.mid)
            return
        if on_delivered is not None:
            with self._unacked_changed:
                early = info.mid in self._delivered_early
                if early:
                    self._delivered_early.discard(info.mid)
                else:
                    self._on_delivered[info.mid] = on_delivered
            if early:
                on_delivered()

    def set_status(self, online: bool, reason: str | None = None) -> None:
        """Say the service is online, or offline for ``reason`` (retained on ``STATUS_TOPIC``),
        now and on every reconnect until said otherwise; only a connection that ``announce``s.

        The service says offline while it runs when it cannot do its job (its store cannot be
        written), so that the fallback relay pages unfiltered meanwhile.
        """
        if not self.settings.announce:
            return
        now = time.time()
        self._status = ("online", None, None) if online else ("offline", now, reason)
        state, _, reason = self._status
        self._say_status(state, now, reason)

    def ack(self, messages: list[InboundMessage]) -> None:
        """Acknowledge received messages to the broker (``manual_ack``): they are ours now."""
        if self.manual_ack:
            self._client.ack_all([m.mid for m in messages if m.qos == 1])

    def flush(self, timeout: float) -> bool:
        """Wait until every publish so far is acknowledged by the broker; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._unacked_changed:
            while self._unacked > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._unacked_changed.wait(remaining)
        return True

    def stop(self) -> None:
        """Say offline, let queued publishes go out, disconnect cleanly, stop the thread."""
        self._stopping = True
        if self.connected:
            if self.settings.announce:
                self._say_status("offline", time.time())
            if not self.flush(STOP_FLUSH_TIMEOUT):
                self.log.warning(
                    "%d messages were not acknowledged by the broker within %.0f s of stopping",
                    self._unacked,
                    STOP_FLUSH_TIMEOUT,
                )
        elif self._unacked > 0:
            self.log.warning(
                "stopping while disconnected: %d queued messages (pages, dead letters) are lost",
                self._unacked,
            )
        self._disconnecting = True  # _on_disconnect ends paho's loop once DISCONNECT is out
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        self._subscribed.clear()

    def _say_status(self, state: str, since: float, reason: str | None = None) -> None:
        """The retained status (JSON), and the plain ``availability`` if the settings name one."""
        self.publish(STATUS_TOPIC, _status(state, since, reason), qos=1, retain=True)
        if self.settings.availability is not None:
            self.publish(self.settings.availability, state.encode(), qos=1, retain=True)

    # -- paho ----------------------------------------------------------------------------------

    def _make_client(self) -> _Client:
        s = self.settings
        client = _Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            clean_session=s.clean_session,
            protocol=paho.MQTTv311,
            manual_ack=self.manual_ack,
        )
        paho_logger = logging.getLogger(f"{self.log.name}.paho")
        if paho_logger.isEnabledFor(logging.DEBUG):
            # paho's own errors repeat what we log, less clearly; its debug trace is useful
            client.enable_logger(paho_logger)
        # paho swallows the reason a connection attempt failed; keep it for the log
        reconnect = client.reconnect

        def reconnect_keeping_the_reason() -> Any:
            try:
                return reconnect()
            except OSError as error:
                self._connect_error = error
                raise

        client.reconnect = reconnect_keeping_the_reason  # type: ignore[method-assign]
        client.reconnect_delay_set(RECONNECT_MIN_DELAY, RECONNECT_MAX_DELAY)
        client.max_queued_messages_set(0)
        client.max_inflight_messages_set(s.max_inflight)
        if s.announce:
            client.will_set(STATUS_TOPIC, _status("offline"), qos=1, retain=True)
        elif s.will is not None:
            client.will_set(*s.will, qos=1, retain=True)
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if s.tls is not None:
            client.tls_set(
                ca_certs=s.tls.cafile,
                certfile=s.tls.certfile,
                keyfile=s.tls.keyfile,
                cert_reqs=ssl.CERT_REQUIRED,
            )
            if s.tls.insecure:
                client.tls_insecure_set(True)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_messages = self._on_messages
        client.on_publish = self._on_publish
        return client

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: Any,
        reason_code: Any,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            self.last_failure = f"refused: {reason_code}"
            self.log.warning(
                "MQTT broker %s refused the connection: %s (check --username, the password, "
                "TLS settings and the broker's ACL)",
                self.settings.url,
                reason_code,
            )
            return
        self.last_failure = None
        again = "re" if self._ever_connected else ""
        self._ever_connected = True
        self.log.info(
            "%sconnected to MQTT broker %s (session %s)",
            again,
            self.settings.url,
            "resumed" if flags.session_present else "new",
        )
        self._connected.set()
        if self.subscriptions:
            client.subscribe([(topic, 1) for topic in self.subscriptions])
        else:
            self._subscribed.set()
        if self.settings.announce:
            state, since, reason = self._status
            self._say_status(state, time.time() if since is None else since, reason)

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        error, self._connect_error = self._connect_error, None
        self.last_failure = str(error or "connection failed")
        self.log.warning(
            "could not connect to MQTT broker %s: %s; retrying (at most every %d s)",
            self.settings.url,
            error or "connection failed",
            RECONNECT_MAX_DELAY,
        )

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: Any,
        reason_code: Any,
        properties: Any,
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        self._subscribed.clear()
        if self._disconnecting:
            # Called on paho's network thread right after our DISCONNECT went out and before
            # paho closes the socket. Unless its loop is told to end now, it goes round once more
            # on the closed socket and logs "Client is not connected" at ERROR: a race with the
            # loop_stop() in stop(), which the loop only sees after that round.
            client.loop_stop()
        if self._stopping:
            self.log.info("disconnected from MQTT broker %s", self.settings.url)
        elif was_connected:
            self.log.warning(
                "lost the connection to MQTT broker %s (%s); reconnecting, events are kept by "
                "the broker meanwhile",
                self.settings.url,
                reason_code,
            )

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[Any],
        properties: Any,
    ) -> None:
        for topic, code in zip(self.subscriptions, reason_codes, strict=False):
            if code.is_failure:
                self.log.error(
                    "MQTT broker refused the subscription to %s (%s): check the broker's ACL "
                    "for user %s",
                    topic,
                    code,
                    self.settings.username or "(anonymous)",
                )
            else:
                self.log.debug("subscribed to %s (%s)", topic, code)
        if not any(code.is_failure for code in reason_codes):
            self._subscribed.set()

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        received_at = time.time()
        try:
            topic = message.topic
        except UnicodeDecodeError:  # the broker should refuse these; never die on one
            topic = bytes(message._topic).decode("utf-8", errors="replace")
        payload = bytes(message.payload)
        inbound = InboundMessage(
            topic, payload, received_at, bool(message.retain), message.mid, message.qos
        )
        if isinstance(self.inbox, Inbox):
            self._ack_now(self.inbox.put(inbound))
        else:
            self.inbox.put(inbound)

    def _on_messages(self, messages: list[InboundMessage]) -> None:
        inbox = self.inbox
        if isinstance(inbox, Inbox):
            self._ack_now(inbox.put_all(messages))
        else:
            for message in messages:
                inbox.put(message)

    def _ack_now(self, mids: list[int]) -> None:
        """Acknowledge what the inbox's low lane took (``manual_ack``; otherwise paho has)."""
        if mids and self.manual_ack:
            self._client.ack_all(mids)

    def _on_publish(
        self, client: paho.Client, userdata: Any, mid: int, reason_code: Any, properties: Any
    ) -> None:
        self._acknowledged(mid)

    def _acknowledged(self, mid: int) -> None:
        with self._unacked_changed:
            self._unacked -= 1
            if self._unacked <= 0:
                self._unacked_changed.notify_all()
            callback = self._on_delivered.pop(mid, None)
            if callback is None and mid:
                # most are publishes without a callback; the marks of the latest few are kept,
                # far fewer than the 65535 publishes after which paho uses a mid again
                self._delivered_early.add(mid)
                if len(self._delivered_early) > EARLY_MARKS:
                    self._delivered_early.clear()
        if callback is not None:
            callback()


def _status(state: str, since: float | None = None, reason: str | None = None) -> bytes:
    body: dict[str, Any] = {"state": state}
    if since is not None:
        body["since"] = round(since, 3)
    if reason is not None:
        body["reason"] = reason
    return json.dumps(body, separators=(",", ":")).encode("utf-8")
