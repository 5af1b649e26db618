"""The ESPA 4.4.4 adapter: the only module that talks to a paging system, over TCP or a serial port.

``EspaTcpClient`` and ``EspaSerialClient`` each run one thread that owns the connection and
drives the sans-I/O ``Link`` of ``sensorhub.espa.link``: it writes what the link
asks for, feeds it what arrives, and calls ``Link.timeout()`` when the paging system has been
silent for ``response_timeout`` seconds. Everything else (framing, BCC, retries, which call
status is an acknowledgement) is the link's business.

What it does so that a call is not lost:

- ``send(call)`` / ``send_page(page)`` may be called from any thread, connected or not; calls
  wait in order and go out one transaction at a time (select, block, EOT);
- a call whose block the paging system has not confirmed (ACK) when the connection breaks is
  sent again, first, on the next connection. A block that arrived but whose ACK was lost is
  therefore sent twice: the paging system sees a repeat, never a gap;
- it reconnects by itself, waiting 1 s, 2 s, 4 s ... at most 30 s between attempts;
- while idle it polls the paging system every ``poll_interval`` seconds for call status and
  hands each status to ``on_status(address, status)``; ``status.acknowledged`` says whether it
  counts as an acknowledgement (``LinkSettings.ack_statuses``);
- ``dead_after`` timeouts in a row (no answer to polls either) mean the other end is gone even
  if the socket has not noticed: the connection is dropped and made again.

Each call's outcome is a ``Delivery``: wait on it, or pass ``on_delivery`` to hear of it.

A paging system's settings are configuration, written in a site's rule file: ``EspaConfig``
lives in ``sensorhub.rules.paging`` (re-exported here), and ``client_for(config)`` makes its
client. ``sensorhub.io.paging.EspaChannel`` puts a client behind the durable outbox.

The serial transport uses termios directly (no pyserial): the port is put in raw mode with the
configured baud rate, data bits, parity and stop bits. POSIX only.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Final, Literal, Protocol, Self, TypedDict, Unpack

from sensorhub.contract import Page
from sensorhub.espa.framing import describe
from sensorhub.espa.link import (
    Acked,
    CallStatus,
    Failed,
    Link,
    LinkEvent,
    LinkSettings,
    Nakked,
    ProtocolError,
    Retransmit,
    Send,
    SystemStatus,
    settings_of,
)
from sensorhub.espa.profiles import CallProfile, profile_of
from sensorhub.espa.records import Call
from sensorhub.rules.paging import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_RESPONSE_TIMEOUT,
    CallCodesConfig,
    EspaConfig,
    Parity,
)

logger = logging.getLogger(__name__)

RECONNECT_MIN_DELAY: Final = 1.0
RECONNECT_MAX_DELAY: Final = 30.0
#: Timeouts in a row after which the connection is taken for dead and made again.
DEFAULT_DEAD_AFTER: Final = 3
CONNECT_TIMEOUT: Final = 5.0
#: Longest wait for the socket or port when nothing is due, so new calls go out promptly.
_IDLE_TICK: Final = 0.02
_READ_SIZE: Final = 4096

StatusCallback = Callable[[str, CallStatus], None]


# -- transports ----------------------------------------------------------------------------------


class Transport(Protocol):
    """A byte pipe to the paging system that can be opened again after it breaks."""

    @property
    def name(self) -> str: ...

    def open(self) -> None:
        """Connect; ``OSError`` if that is not possible now."""

    def close(self) -> None: ...

    def read(self, timeout: float) -> bytes:
        """What arrives within ``timeout`` seconds (``b""``: nothing); ``OSError`` if broken."""

    def write(self, data: bytes) -> None:
        """Write all of ``data``; ``OSError`` if the connection is broken."""


class TcpTransport:
    """ESPA over a TCP connection to a paging system (or a serial-to-TCP converter)."""

    def __init__(self, host: str, port: int, *, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"TCP port must be 1..65535, not {port}")
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self._sock: socket.socket | None = None

    @property
    def name(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def open(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.settimeout(self.connect_timeout)  # bounds sendall; reads go through select()
        self._sock = sock

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _socket(self) -> socket.socket:
        if self._sock is None:
            raise ConnectionError(f"not connected to {self.name}")
        return self._sock

    def read(self, timeout: float) -> bytes:
        sock = self._socket()
        readable, _, _ = select.select([sock], [], [], max(timeout, 0.0))
        if not readable:
            return b""
        data = sock.recv(_READ_SIZE)
        if not data:
            raise ConnectionError(f"the paging system at {self.name} closed the connection")
        return data

    def write(self, data: bytes) -> None:
        self._socket().sendall(data)


def raw_mode(
    cc: list[bytes | int],
    speed: int,
    *,
    bytesize: Literal[7, 8],
    parity: Parity,
    stopbits: Literal[1, 2],
) -> list[int | list[bytes | int]]:
    """The termios attributes of a raw serial line: no echo, no line editing, no translation.

    Reads return at once with what is there (VMIN = VTIME = 0); the caller waits in select().
    """
    import termios  # noqa: PLC0415 - POSIX only; imported where it is needed

    cflag = termios.CREAD | termios.CLOCAL
    cflag |= termios.CS7 if bytesize == 7 else termios.CS8
    iflag = termios.IGNBRK
    if parity != "N":
        cflag |= termios.PARENB
        if parity == "O":
            cflag |= termios.PARODD
        iflag |= termios.INPCK  # drop characters with a parity error: the BCC catches the block
    if stopbits == 2:
        cflag |= termios.CSTOPB
    chars = list(cc)
    chars[termios.VMIN] = 0
    chars[termios.VTIME] = 0
    return [iflag, 0, cflag, 0, speed, speed, chars]


class SerialTransport:
    """ESPA over a serial port (RS-232), configured with termios; no pyserial needed."""

    def __init__(
        self,
        device: str,
        baud: int = 9600,
        *,
        bytesize: Literal[7, 8] = 8,
        parity: Parity = "N",
        stopbits: Literal[1, 2] = 1,
        write_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        import termios  # noqa: PLC0415 - POSIX only; imported where it is needed

        speed: int | None = getattr(termios, f"B{baud}", None)
        if speed is None:
            raise ValueError(f"baud rate {baud} is not supported by this system's termios")
        if bytesize not in (7, 8):
            raise ValueError(f"data bits must be 7 or 8, not {bytesize}")
        if parity not in ("N", "E", "O"):
            raise ValueError(f"parity must be N, E or O, not {parity!r}")
        if stopbits not in (1, 2):
            raise ValueError(f"stop bits must be 1 or 2, not {stopbits}")
        self.device = device
        self.baud = baud
        self.bytesize = bytesize
        self.parity = parity
        self.stopbits = stopbits
        self.write_timeout = write_timeout
        self._speed = speed
        self._fd: int | None = None

    @property
    def name(self) -> str:
        return f"{self.device} ({self.baud} {self.bytesize}{self.parity}{self.stopbits})"

    def open(self) -> None:
        import termios  # noqa: PLC0415 - see __init__

        fd = os.open(self.device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            cc = termios.tcgetattr(fd)[6]
            mode = raw_mode(
                cc, self._speed, bytesize=self.bytesize, parity=self.parity, stopbits=self.stopbits
            )
            termios.tcsetattr(fd, termios.TCSANOW, mode)
            termios.tcflush(fd, termios.TCIOFLUSH)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _descriptor(self) -> int:
        if self._fd is None:
            raise ConnectionError(f"serial port {self.device} is not open")
        return self._fd

    def read(self, timeout: float) -> bytes:
        fd = self._descriptor()
        readable, _, _ = select.select([fd], [], [], max(timeout, 0.0))
        if not readable:
            return b""
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return b""
        if not data:
            raise ConnectionError(f"serial port {self.device} hung up")
        return data

    def write(self, data: bytes) -> None:
        fd = self._descriptor()
        view = memoryview(data)
        deadline = time.monotonic() + self.write_timeout
        while view:
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                written = 0
            view = view[written:]
            if view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"serial port {self.device} takes no more data")
                select.select([], [fd], [], remaining)


# -- deliveries ----------------------------------------------------------------------------------


class Delivery:
    """The fate of one call: pending until the paging system confirmed it or it failed."""

    def __init__(self, call: Call, page_id: str | None = None) -> None:
        self.call = call
        self.page_id = page_id
        #: True: the paging system confirmed the block (ACK). False: failed, see ``reason``.
        self.delivered: bool | None = None
        self.reason: str | None = None
        self.attempts = 0  # connections on which the call was started
        self._done = threading.Event()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until delivered or failed; False on timeout."""
        return self._done.wait(timeout)

    def _finish(self, delivered: bool, reason: str | None = None) -> None:
        self.delivered = delivered
        self.reason = reason
        self._done.set()

    def __repr__(self) -> str:
        state = (
            "pending" if self.delivered is None else ("delivered" if self.delivered else "failed")
        )
        return f"Delivery({self.call.address}, {state}, page={self.page_id})"


# -- the client ----------------------------------------------------------------------------------


class EspaClient:
    """One link to one paging system, as the control station. ``start()`` returns at once."""

    def __init__(
        self,
        transport: Transport,
        *,
        settings: LinkSettings | None = None,
        profile: CallProfile | None = None,
        on_status: StatusCallback | None = None,
        on_delivery: Callable[[Delivery], None] | None = None,
        response_timeout: float = DEFAULT_RESPONSE_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        reconnect_min: float = RECONNECT_MIN_DELAY,
        reconnect_max: float = RECONNECT_MAX_DELAY,
        dead_after: int = DEFAULT_DEAD_AFTER,
        log: logging.Logger | None = None,
    ) -> None:
        if response_timeout <= 0 or poll_interval <= 0:
            raise ValueError("response_timeout and poll_interval must be positive")
        if not 0 < reconnect_min <= reconnect_max:
            raise ValueError("reconnect delays must satisfy 0 < reconnect_min <= reconnect_max")
        if dead_after < 1:
            raise ValueError(f"dead_after must be at least 1, not {dead_after}")
        self.transport = transport
        self.link = Link(settings)
        self.profile = profile
        self.on_status = on_status
        self.on_delivery = on_delivery
        self.response_timeout = response_timeout
        self.poll_interval = poll_interval
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.dead_after = dead_after
        self.log = log or logger
        self._queue: deque[Delivery] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self._inflight: Delivery | None = None
        self.connections = 0  # successful connects so far

    # -- public --------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def pending(self) -> int:
        """Calls not yet confirmed by the paging system (queued or in flight)."""
        with self._lock:
            return len(self._queue) + (self._inflight is not None)

    def start(self) -> None:
        """Connect in the background and keep reconnecting until ``stop()``."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"espa {self.transport.name}", daemon=True
        )
        self._thread.start()

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._connected.wait(timeout)

    def send(self, call: Call, *, page_id: str | None = None) -> Delivery:
        """Queue ``call``; it goes out as soon as the link is free. Any thread may call this."""
        delivery = Delivery(call, page_id)
        with self._lock:
            self._queue.append(delivery)
        return delivery

    def send_page(self, page: Page) -> Delivery:
        """Queue the call for ``page`` (``UnknownRecipientError`` if its recipient has no pager)."""
        if self.profile is None:
            raise RuntimeError("this ESPA client has no CallProfile: give one to send pages")
        return self.send(self.profile.call_for(page), page_id=page.page_id)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and close the connection. Undelivered calls stay queued (``pending``)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                self.log.warning("the ESPA thread for %s did not stop in time", self.transport.name)
        self._thread = None
        left = self.pending
        if left:
            self.log.warning(
                "stopped with %d calls not confirmed by the paging system %s",
                left,
                self.transport.name,
            )

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.reconnect_min
        name = self.transport.name
        while not self._stop.is_set():
            try:
                self.transport.open()
            except OSError as error:
                self.log.warning(
                    "could not connect to paging system %s: %s; retrying in %.1f s",
                    name,
                    error,
                    delay,
                )
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, self.reconnect_max)
                continue
            delay = self.reconnect_min
            self.connections += 1
            self.log.info(
                "%sconnected to paging system %s", "re" if self.connections > 1 else "", name
            )
            self._connected.set()
            try:
                self._serve()
            except OSError as error:  # ConnectionError and TimeoutError included
                if not self._stop.is_set():
                    self.log.warning(
                        "lost the connection to paging system %s (%s); reconnecting", name, error
                    )
            finally:
                self._connected.clear()
                self.link.reset()
                self._requeue()
                self.transport.close()
            if self._stop.wait(self.reconnect_min):
                break
        self.log.info("disconnected from paging system %s", name)

    def _requeue(self) -> None:
        """The call in flight was not confirmed: it goes first on the next connection."""
        with self._lock:
            delivery, self._inflight = self._inflight, None
            if delivery is not None and not delivery.done:
                self._queue.appendleft(delivery)

    def _next_delivery(self) -> Delivery | None:
        with self._lock:
            if not self._queue:
                return None
            delivery = self._queue.popleft()
            self._inflight = delivery
            return delivery

    def _serve(self) -> None:
        """One connection: a transaction at a time until the connection breaks or stop()."""
        link = self.link
        now = time.monotonic()
        next_poll = now
        deadline = now
        silent = 0  # timeouts in a row
        while not self._stop.is_set():
            now = time.monotonic()
            if link.idle:
                delivery = self._next_delivery()
                if delivery is not None:
                    delivery.attempts += 1
                    self._write(link.start_call(delivery.call))
                    deadline = now + self.response_timeout
                elif now >= next_poll:
                    self._write(link.poll())
                    deadline = now + self.response_timeout
                    next_poll = now + self.poll_interval
            if link.waiting:
                wait = min(deadline - now, self.response_timeout)
            else:
                wait = min(next_poll - now, _IDLE_TICK)
            data = self.transport.read(max(wait, 0.0))
            if data:
                self.log.debug("espa <- %s", describe(data))
                silent = 0  # the other end is alive, even if this was only an EOT to a poll
                events = link.receive(data)
                if events:
                    deadline = time.monotonic() + self.response_timeout
                self._handle(events)
            elif link.waiting and time.monotonic() >= deadline:
                silent += 1
                if silent >= self.dead_after:
                    raise ConnectionError(
                        f"no answer from the paging system {silent} times in a row"
                    )
                self.log.debug("espa: no answer within %.1f s", self.response_timeout)
                self._handle(link.timeout())
                deadline = time.monotonic() + self.response_timeout

    def _write(self, data: bytes) -> None:
        self.log.debug("espa -> %s", describe(data))
        self.transport.write(data)

    def _handle(self, events: list[LinkEvent]) -> None:
        for event in events:
            match event:
                case Send(data) | Retransmit(data):
                    self._write(data)
                case Acked(call):
                    self._finish(call, delivered=True)
                case Failed(reason, call) if call is not None:
                    self.log.error(
                        "call to pager %s failed on %s: %s",
                        call.address,
                        self.transport.name,
                        reason,
                    )
                    self._finish(call, delivered=False, reason=reason)
                case Failed(reason):
                    self.log.debug("espa poll: %s", reason)
                case Nakked(call, stage, attempt):
                    self.log.warning(
                        "paging system answered NAK to the %s of the call to %s (attempt %d)",
                        stage,
                        call.address,
                        attempt,
                    )
                case CallStatus() as status:
                    self.log.info(
                        "call to pager %s: status %s (%s)%s",
                        status.address,
                        status.status,
                        status.meaning,
                        ", acknowledged" if status.acknowledged else "",
                    )
                    self._callback(self.on_status, status.address, status)
                case SystemStatus(status):
                    self.log.info(
                        "paging system %s reports system status %s", self.transport.name, status
                    )
                case ProtocolError(reason):
                    self.log.warning("ESPA protocol error from %s: %s", self.transport.name, reason)

    def _finish(self, call: Call, *, delivered: bool, reason: str | None = None) -> None:
        with self._lock:
            delivery, self._inflight = self._inflight, None
        if delivery is None or delivery.call != call:  # pragma: no cover - the link follows us
            self.log.error("ESPA: outcome for call to %s that is not in flight", call.address)
            return
        delivery._finish(delivered, reason)
        if delivered:
            self.log.info(
                "call to pager %s delivered to %s (page %s)",
                call.address,
                self.transport.name,
                delivery.page_id,
            )
        self._callback(self.on_delivery, delivery)

    def _callback(self, callback: Callable[..., None] | None, *args: object) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # a failing callback must not take the link down
            self.log.exception("ESPA callback %r failed", callback)


class ClientOptions(TypedDict, total=False):
    """The keyword arguments of ``EspaClient`` besides the transport."""

    settings: LinkSettings | None
    profile: CallProfile | None
    on_status: StatusCallback | None
    on_delivery: Callable[[Delivery], None] | None
    response_timeout: float
    poll_interval: float
    reconnect_min: float
    reconnect_max: float
    dead_after: int
    log: logging.Logger | None


class EspaTcpClient(EspaClient):
    """An ``EspaClient`` on TCP: ``EspaTcpClient("paging.local", 2023, on_status=...)``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(TcpTransport(host, port, connect_timeout=connect_timeout), **options)


class EspaSerialClient(EspaClient):
    """An ``EspaClient`` on a serial port: ``EspaSerialClient("/dev/ttyS0", 9600, ...)``."""

    def __init__(
        self,
        device: str,
        baud: int = 9600,
        *,
        bytesize: Literal[7, 8] = 8,
        parity: Parity = "N",
        stopbits: Literal[1, 2] = 1,
        **options: Unpack[ClientOptions],
    ) -> None:
        profile = options.get("profile")
        if bytesize == 7 and profile is not None and not profile.seven_bit:
            raise ValueError("with 7 data bits the CallProfile must have seven_bit=True")
        transport = SerialTransport(
            device, baud, bytesize=bytesize, parity=parity, stopbits=stopbits
        )
        super().__init__(transport, **options)


# -- from configuration --------------------------------------------------------------------------


def client_for(
    config: EspaConfig,
    *,
    on_status: StatusCallback | None = None,
    on_delivery: Callable[[Delivery], None] | None = None,
    reconnect_min: float = RECONNECT_MIN_DELAY,
    reconnect_max: float = RECONNECT_MAX_DELAY,
    dead_after: int = DEFAULT_DEAD_AFTER,
    log: logging.Logger | None = None,
) -> EspaClient:
    """A client (not started) for the paging system ``config`` of a rule file describes."""
    transport: Transport
    if config.device is not None:
        transport = SerialTransport(
            config.device,
            config.baud,
            bytesize=config.bytesize,
            parity=config.parity,
            stopbits=config.stopbits,
        )
    else:
        assert config.host is not None  # noqa: S101 - validated
        assert config.port is not None  # noqa: S101 - validated
        transport = TcpTransport(config.host, config.port)
    return EspaClient(
        transport,
        settings=settings_of(config),
        profile=profile_of(config),
        on_status=on_status,
        on_delivery=on_delivery,
        response_timeout=config.response_timeout,
        poll_interval=config.poll_interval,
        reconnect_min=reconnect_min,
        reconnect_max=reconnect_max,
        dead_after=dead_after,
        log=log,
    )


__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_RESPONSE_TIMEOUT",
    "CallCodesConfig",
    "ClientOptions",
    "Delivery",
    "EspaClient",
    "EspaConfig",
    "EspaSerialClient",
    "EspaTcpClient",
    "Parity",
    "SerialTransport",
    "StatusCallback",
    "TcpTransport",
    "Transport",
    "client_for",
    "raw_mode",
]
