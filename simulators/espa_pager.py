"""A paging system that speaks ESPA 4.4.4, for tests and demos: takes calls, acknowledges some.

It listens on a TCP port (loopback by default) and plays the paging system's end of the link
(``Receiver`` in ``simulators.espa_receiver``): it answers selections, checks every block
(BCC, structure, record ids, the call's records) and answers a bad one with NAK, records each
call it accepts, and when polled hands out call-status blocks. A call is acknowledged after
``ack_delay`` seconds (call status ``4``, answered) or ignored, by address or at random with a
seed; every accepted call is first reported as transmitted (status ``2``), which is not an
acknowledgement. For retry tests it can answer the next blocks with NAK, refuse selections, or
drop the connection.

As a library::

    with PagerSimulator(ack_delay=0.5, ignore={"1003"}) as pager:
        client = EspaTcpClient("127.0.0.1", pager.port, ...)
        ...
        pager.wait_for_calls(1)
        pager.calls[0].call.address      # "1001"
        pager.ack("1003")                # acknowledge by hand
        pager.nak_next(2); pager.drop_next(1); pager.drop_connections()

Command line (prints what it receives; Ctrl-C ends it)::

    python -m simulators.espa_pager --port 0 [--ack-delay 5] [--ignore 1003,1004]
        [--acknowledge 1001] [--ack-probability 0.5 --seed 7] [--pty]

``--pty`` also opens a pseudo-terminal and prints its device, for trying the serial client.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import random
import select
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Protocol, Self

from sensorhub.durations import duration_argument
from sensorhub.espa.framing import Block, describe
from sensorhub.espa.link import Send
from sensorhub.espa.records import Call, CallStatusCode, status_block
from simulators.espa_receiver import (
    CallReceived,
    Receiver,
    ReceiverEvent,
    ReceiverFaults,
    Rejected,
    StatusDelivered,
)

HOST: Final = "127.0.0.1"
#: How long the simulator waits for the control station before it gives up a transaction.
RESPONSE_TIMEOUT: Final = 3.0
_TICK: Final = 0.05
_READ_SIZE: Final = 4096


@dataclass(frozen=True, slots=True)
class ReceivedCall:
    """A call the simulator accepted (answered with ACK)."""

    call: Call
    #: Which connection it came on (1 for the first, counting reconnections).
    connection: int
    received_at: float
    #: Whether the simulator decided to acknowledge it (after ``ack_delay``).
    will_acknowledge: bool
    raw: bytes


class _Channel(Protocol):
    name: str

    def recv(self, timeout: float) -> bytes: ...

    def send(self, data: bytes) -> None: ...

    def shutdown(self) -> None: ...

    def close(self) -> None: ...


class _SocketChannel:
    def __init__(self, sock: socket.socket, name: str) -> None:
        self.sock = sock
        self.name = name

    def recv(self, timeout: float) -> bytes:
        readable, _, _ = select.select([self.sock], [], [], timeout)
        if not readable:
            return b""
        data = self.sock.recv(_READ_SIZE)
        if not data:
            raise ConnectionError("the control station closed the connection")
        return data

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def shutdown(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.sock.close()


class _TtyChannel:
    """The master end of a pseudo-terminal (or a serial port) the simulator owns."""

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name

    def recv(self, timeout: float) -> bytes:
        readable, _, _ = select.select([self.fd], [], [], timeout)
        if not readable:
            return b""
        try:
            return os.read(self.fd, _READ_SIZE)
        except OSError as error:
            if error.errno != errno.EIO:
                raise
            time.sleep(timeout)  # nobody has the other end open (the client reconnects)
            return b""

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def shutdown(self) -> None:
        pass  # a tty session ends with the simulator

    def close(self) -> None:
        os.close(self.fd)


class PagerSimulator:
    """A paging system on a loopback TCP port. ``start()``/``stop()``, or use ``with``."""

    def __init__(
        self,
        *,
        host: str = HOST,
        port: int = 0,
        address: str = "2",
        control_address: str = "1",
        ack_delay: float = 1.0,
        acknowledge: Iterable[str] | None = None,
        ignore: Iterable[str] = (),
        ack_probability: float = 1.0,
        seed: int | None = None,
        ack_status: str = CallStatusCode.ANSWERED.value,
        progress_status: str | None = CallStatusCode.TRANSMITTED.value,
        response_timeout: float = RESPONSE_TIMEOUT,
        report: Callable[[str], None] | None = None,
    ) -> None:
        if not 0.0 <= ack_probability <= 1.0:
            raise ValueError(f"ack_probability must be in [0, 1], not {ack_probability}")
        self.host = host
        self._requested_port = port
        self.address = address
        self.control_address = control_address
        self.ack_delay = ack_delay
        #: Only these addresses are acknowledged (None: every address not ignored).
        self.acknowledge = None if acknowledge is None else frozenset(acknowledge)
        self.ignore = frozenset(ignore)
        self.ack_probability = ack_probability
        self.ack_status = ack_status
        self.progress_status = progress_status
        self.response_timeout = response_timeout
        self._report = report
        self._rng = random.Random(seed)
        self._changed = threading.Condition()
        self._outbox: deque[Block] = deque()
        self._faults = ReceiverFaults()
        self._drop_blocks = 0
        self._calls: list[ReceivedCall] = []
        self._errors: list[str] = []
        self._injected: list[str] = []
        self._delivered: list[Block] = []
        self._connections = 0
        self._live: set[_Channel] = set()
        self._threads: list[threading.Thread] = []
        self._timers: list[threading.Timer] = []
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("the simulator is not listening: start() it first")
        port: int = self._listener.getsockname()[1]
        return port

    def start(self) -> None:
        if self._listener is not None:
            return
        self._stopping.clear()
        self._listener = socket.create_server((self.host, self._requested_port))
        self._acceptor = threading.Thread(
            target=self._accept, name="espa-pager accept", daemon=True
        )
        self._acceptor.start()
        self._say(f"ESPA 4.4.4 paging system listening on {self.host}:{self.port}")

    def attach(self, fd: int, name: str = "tty") -> None:
        """Speak ESPA on ``fd`` too (a pty master or serial port); closed by ``stop()``."""
        self._session_thread(_TtyChannel(fd, name))

    def stop(self) -> None:
        self._stopping.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._acceptor is not None:
            self._acceptor.join()
            self._acceptor = None
        with self._changed:
            live = list(self._live)
            timers, self._timers = self._timers, []
        for channel in live:
            channel.shutdown()
        for timer in timers:
            timer.cancel()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

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

    # -- what happened -------------------------------------------------------------------------

    @property
    def calls(self) -> list[ReceivedCall]:
        with self._changed:
            return list(self._calls)

    @property
    def errors(self) -> list[str]:
        """Why frames were refused (NAK) or ignored, faults played on purpose left out."""
        with self._changed:
            return list(self._errors)

    @property
    def injected(self) -> list[str]:
        """The faults played on purpose (``nak_next``, ``not_ready_next``)."""
        with self._changed:
            return list(self._injected)

    @property
    def reported(self) -> list[Block]:
        """Status blocks the control station has confirmed."""
        with self._changed:
            return list(self._delivered)

    @property
    def connections(self) -> int:
        with self._changed:
            return self._connections

    def wait_for_calls(self, count: int, timeout: float = 10.0) -> list[ReceivedCall]:
        """The first ``count`` calls; ``TimeoutError`` if they do not all come in time."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._calls) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"waited {timeout:g} s for {count} calls, got {len(self._calls)}; "
                        f"refused frames: {self._errors}"
                    )
                self._changed.wait(remaining)
            return self._calls[:count]

    # -- what to do ----------------------------------------------------------------------------

    def ack(self, address: str) -> None:
        """Report the call to ``address`` as acknowledged at the next poll."""
        self.report_status(address, self.ack_status)

    def report_status(self, address: str, status: str) -> None:
        """Report ``status`` (record 7) for the call to ``address`` at the next poll."""
        with self._changed:
            self._outbox.append(status_block(address, status))
        self._say(f"status {status} for {address} queued")

    def nak_next(self, count: int = 1) -> None:
        """Answer the next ``count`` correct call blocks with NAK."""
        with self._changed:
            self._faults.nak_blocks += count

    def not_ready_next(self, count: int = 1) -> None:
        """Answer the next ``count`` selections with NAK (not ready)."""
        with self._changed:
            self._faults.not_ready += count

    def drop_next(self, count: int = 1) -> None:
        """Close the connection, without an answer, when each of the next ``count`` calls comes."""
        with self._changed:
            self._drop_blocks += count

    def drop_connections(self) -> None:
        """Close every TCP connection now."""
        with self._changed:
            live = list(self._live)
        for channel in live:
            channel.shutdown()

    # -- inside --------------------------------------------------------------------------------

    def _say(self, line: str) -> None:
        if self._report is not None:
            self._report(line)

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None  # noqa: S101 - set by start()
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select([listener], [], [], _TICK)
                if not readable:
                    continue
                sock, peer = listener.accept()
            except (OSError, ValueError):  # closed by stop()
                return
            self._session_thread(_SocketChannel(sock, f"{peer[0]}:{peer[1]}"))

    def _session_thread(self, channel: _Channel) -> None:
        with self._changed:
            self._connections += 1
            number = self._connections
            self._live.add(channel)
        thread = threading.Thread(
            target=self._session, args=(channel, number), name=f"espa-pager {number}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _session(self, channel: _Channel, number: int) -> None:
        self._say(f"connection {number} from {channel.name}")
        receiver = Receiver(
            address=self.address,
            control_address=self.control_address,
            outbox=self._outbox,
            faults=self._faults,
        )
        last = time.monotonic()
        try:
            while not self._stopping.is_set():
                try:
                    data = channel.recv(_TICK)
                except OSError as error:
                    self._say(f"connection {number} ended: {error}")
                    break
                if data:
                    last = time.monotonic()
                    with self._changed:
                        events = receiver.receive(data)
                elif receiver.busy and time.monotonic() - last > self.response_timeout:
                    last = time.monotonic()
                    with self._changed:
                        events = receiver.timeout()
                else:
                    continue
                if not self._play(channel, number, events):
                    break
        finally:
            with self._changed:
                self._live.discard(channel)
            channel.close()

    def _play(self, channel: _Channel, number: int, events: list[ReceiverEvent]) -> bool:
        """Carry out ``events``; False if the connection is to be dropped."""
        for event in events:
            match event:
                case Send(data):
                    try:
                        channel.send(data)
                    except OSError:
                        return False
                case CallReceived(call, raw):
                    if not self._accept_call(call, raw, number):
                        return False
                case Rejected(reason, raw, injected):
                    with self._changed:
                        (self._injected if injected else self._errors).append(reason)
                    what = "fault played" if injected else "refused"
                    self._say(f"{what}: {reason} {describe(raw)}".rstrip())
                case StatusDelivered(block):
                    with self._changed:
                        self._delivered.append(block)
                    self._say(f"reported {describe(block.encode())}")
        return True

    def _accept_call(self, call: Call, raw: bytes, number: int) -> bool:
        with self._changed:
            if self._drop_blocks > 0:
                self._drop_blocks -= 1
                drop = True
            else:
                drop = False
                ack = self._decide(call)
                self._calls.append(ReceivedCall(call, number, time.time(), ack, raw))
                self._changed.notify_all()
        if drop:
            self._say(f"dropping connection {number} on the call to {call.address}")
            return False
        codes = (
            f"priority {call.priority}, beep {call.beep}, type {call.call_type}, "
            f"transmissions {call.transmissions}"
        )
        then = f"acknowledge in {self.ack_delay:g} s" if ack else "ignore"
        self._say(f"call to {call.address} ({codes}): {call.message!r}; will {then}")
        if self.progress_status is not None:
            self.report_status(call.address, self.progress_status)
        if ack:
            timer = threading.Timer(self.ack_delay, self.ack, args=(call.address,))
            timer.daemon = True
            with self._changed:
                if self._stopping.is_set():
                    return True
                self._timers.append(timer)
            timer.start()
        return True

    def _decide(self, call: Call) -> bool:
        if call.address in self.ignore:
            return False
        if self.acknowledge is not None and call.address not in self.acknowledge:
            return False
        return self._rng.random() < self.ack_probability


def _addresses(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.espa_pager",
        description="A paging system that speaks ESPA 4.4.4 on a TCP port and prints what it gets.",
    )
    parser.add_argument("--host", default=HOST, help="address to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument("--address", default="2", help="our ESPA address (default %(default)s)")
    parser.add_argument("--control-address", default="1", help="the control station's address")
    parser.add_argument(
        "--ack-delay",
        type=duration_argument,
        default=5.0,
        metavar="DURATION",
        help="how long until a call is acknowledged: seconds or e.g. 2s, 1m (default 5s)",
    )
    parser.add_argument("--acknowledge", type=_addresses, help="only acknowledge these addresses")
    parser.add_argument("--ignore", type=_addresses, default=[], help="never acknowledge these")
    parser.add_argument(
        "--ack-probability", type=float, default=1.0, help="share of calls acknowledged"
    )
    parser.add_argument("--seed", type=int, help="random seed for --ack-probability")
    parser.add_argument(
        "--pty", action="store_true", help="also speak ESPA on a new pseudo-terminal"
    )
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)

    simulator = PagerSimulator(
        host=args.host,
        port=args.port,
        address=args.address,
        control_address=args.control_address,
        ack_delay=args.ack_delay,
        acknowledge=args.acknowledge,
        ignore=args.ignore,
        ack_probability=args.ack_probability,
        seed=args.seed,
        report=say,
    )
    with simulator:
        if args.pty:
            master, slave = os.openpty()
            say(f"serial side on {os.ttyname(slave)}")
            simulator.attach(master, os.ttyname(slave))
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            say("stopping")
        finally:
            if args.pty:
                os.close(slave)
    return 0


if __name__ == "__main__":
    sys.exit(main())
