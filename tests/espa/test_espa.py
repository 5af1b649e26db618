"""ESPA 4.4.4: frames byte for byte, the link's handshake and retries, and calls end to end.

The unit tests drive the sans-I/O protocol directly; the end-to-end tests run the real TCP (and
serial, over a pseudo-terminal) client against the paging-system simulator on loopback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from simulators.espa_pager import PagerSimulator
from simulators.espa_receiver import (
    CallReceived,
    Receiver,
    ReceiverFaults,
    ReceiverState,
    Rejected,
)

from sensorhub.contract import Page, Priority
from sensorhub.espa.framing import (
    ACK,
    EOT,
    NAK,
    BadFrame,
    Block,
    BlockReceived,
    FrameError,
    Framer,
    Header,
    bcc,
    decode_block,
)
from sensorhub.espa.link import (
    Acked,
    CallStatus,
    Failed,
    Link,
    LinkSettings,
    Nakked,
    Retransmit,
    Send,
    outgoing,
    settings_of,
)
from sensorhub.espa.profiles import (
    CallCodes,
    CallProfile,
    UnknownRecipientError,
    display_text,
    profile_of,
)
from sensorhub.espa.records import Call, status_block
from sensorhub.io.espa import (
    EspaClient,
    EspaConfig,
    EspaSerialClient,
    EspaTcpClient,
    SerialTransport,
    raw_mode,
)
from tests.conftest import wait_until

WAIT = 10.0
#: Client timings for tests: quick polls and reconnects on loopback.
FAST: dict[str, Any] = {
    "response_timeout": 0.5,
    "poll_interval": 0.05,
    "reconnect_min": 0.05,
    "reconnect_max": 0.2,
}
ROOT = Path(__file__).resolve().parents[2]

FALL = Call("1001", "Room 12: FALL", beep=1, call_type=3, transmissions=3, priority=1)
#: FALL on the wire, written out by hand: SOH "1" STX, six records, ETX and the BCC 0x28.
FALL_FRAME = (
    b"\x01"  # SOH
    b"1"  # header: call to pager
    b"\x02"  # STX
    b"1\x1f1001"  # record 1, call address
    b"\x1e2\x1fRoom 12: FALL"  # RS, record 2, display message
    b"\x1e3\x1f1"  # beep coding 1
    b"\x1e4\x1f3"  # call type 3
    b"\x1e5\x1f3"  # number of transmissions 3
    b"\x1e6\x1f1"  # priority 1
    b"\x03"  # ETX
    b"\x28"  # BCC: XOR of every byte after SOH up to and with ETX
)


def page(
    recipient: str = "night", priority: Priority = "critical", text: str = "Room 12: FALL"
) -> Page:
    return Page(
        page_id="inc-1/0",
        incident="inc-1",
        site="west",
        room="12",
        kind="fall",
        priority=priority,
        audience="care",
        ts=1_700_000_000.0,
        escalation=0,
        recipient=recipient,
        text=text,
        events=["e1"],
    )


def converse(link: Link, receiver: Receiver, first: bytes) -> list[tuple[str, bytes]]:
    """Run ``first`` and everything it leads to between the two ends; the wire, in order."""
    wire: list[tuple[str, bytes]] = []
    data = first
    while data:
        wire.append(("control", data))
        answer = outgoing(receiver.receive(data))
        if not answer:
            break
        wire.append(("pager", answer))
        data = outgoing(link.receive(answer))
    return wire


def selected_receiver() -> Receiver:
    receiver = Receiver()
    assert outgoing(receiver.receive(b"1\x052\x05")) == bytes([ACK])
    return receiver


# -- frames --------------------------------------------------------------------------------------


def test_a_call_is_framed_byte_for_byte_with_its_checksum() -> None:
    assert FALL.encode() == FALL_FRAME


def test_the_bcc_is_the_xor_of_the_bytes_after_soh_up_to_and_with_etx() -> None:
    # worked by hand: 0x31 ^ 0x02 ^ 0x31 ^ 0x1F ^ 0x35 ^ 0x03 = 0x2B ("+")
    frame = b"\x011\x021\x1f5\x03+"
    assert bcc(frame[1:-1]) == 0x2B
    assert Framer().feed(frame) == [BlockReceived(Block(Header.CALL_TO_PAGER, ((1, "5"),)), frame)]


def test_framing_matches_a_published_vendor_example() -> None:
    """Zenitel's wiki example of what an AlphaCom sends (its stray 0x20 after STX left out)."""
    published = bytes.fromhex(
        "01 31 02 31 1F 35 35 30 1E 32 1F 43 41 4C 4C 20 4D 45 20"
        "31 30 31 1E 33 1F 33 1E 34 1F 33 1E 35 1F 33 1E 36 1F 33 03"
    )
    call = Call("550", "CALL ME 101", beep=3, call_type=3, transmissions=3, priority=3)
    assert call.encode() == published + bytes([bcc(published[1:])])


def test_a_corrupted_byte_is_caught_by_the_bcc_and_answered_with_nak() -> None:
    corrupted = FALL_FRAME.replace(b"FALL", b"GALL")
    [token] = Framer().feed(corrupted)
    assert isinstance(token, BadFrame)
    assert "BCC" in token.reason
    receiver = selected_receiver()
    events = receiver.receive(corrupted)
    assert outgoing(events) == bytes([NAK])
    assert not any(isinstance(e, CallReceived) for e in events)


@pytest.mark.parametrize("bit", [0x01, 0x20, 0x40])
def test_no_frame_with_one_corrupted_byte_is_ever_accepted(bit: int) -> None:
    for position in range(1, len(FALL_FRAME)):
        corrupted = bytearray(FALL_FRAME)
        corrupted[position] ^= bit
        framer = Framer()
        tokens = framer.feed(bytes(corrupted)) + framer.feed(bytes([EOT]))
        assert not any(isinstance(t, BlockReceived) for t in tokens), (position, tokens)
        assert any(isinstance(t, BadFrame) for t in tokens), (position, tokens)


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"1" + b"1\x1f1001", "no STX"),
        (b"9\x021\x1f1001", "unknown header"),
        (b"1\x02", "without records"),
        (b"1\x021\x1f1001\x1e9\x1fx", "unknown data identifier 9"),
        (b"1\x021\x1f1001\x1e1\x1f1002", "appears twice"),
        (b"1\x021\x1f1001\x1e2", "must be <id> US <value>"),
        (b"1\x02a\x1f1001", "not a number"),
        (b"1\x021\x1f10\x0701", "control character"),
    ],
)
def test_broken_blocks_are_refused_with_the_reason(body: bytes, complaint: str) -> None:
    with pytest.raises(FrameError, match=complaint):
        decode_block(body)
    frame = b"\x01" + body + b"\x03" + bytes([bcc(body + b"\x03")])
    [token] = Framer().feed(frame)
    assert isinstance(token, BadFrame)
    assert complaint in token.reason


def test_the_receiver_checks_the_records_of_a_call() -> None:
    receiver = selected_receiver()
    not_digits = Block(Header.CALL_TO_PAGER, ((1, "1001"), (3, "12"))).encode()
    events = receiver.receive(not_digits)
    assert outgoing(events) == bytes([NAK])
    assert [e.reason for e in events if isinstance(e, Rejected)] == [
        "record 3 must be one digit, not '12'"
    ]
    no_address = Block(Header.CALL_TO_PAGER, ((2, "hello"),)).encode()
    assert outgoing(receiver.receive(no_address)) == bytes([NAK])


@pytest.mark.parametrize(
    "make",
    [
        lambda: Call("10a1"),
        lambda: Call("1" * 17),
        lambda: Call("1001", beep=10),
        lambda: Call("1001", "line\x1ebreak"),
        lambda: Call("1001", "snowman \u2603"),
    ],
)
def test_a_call_that_cannot_be_sent_is_refused_when_made(make: Callable[[], Call]) -> None:
    with pytest.raises(FrameError):
        make()


# -- the link ------------------------------------------------------------------------------------


def test_handshake_is_select_ack_block_ack_eot() -> None:
    link, receiver = Link(), Receiver()
    wire = converse(link, receiver, link.start_call(FALL))
    assert wire == [
        ("control", b"1\x052\x05"),  # we poll ourselves (1 ENQ) and select the pager (2 ENQ)
        ("pager", bytes([ACK])),
        ("control", FALL_FRAME),
        ("pager", bytes([ACK])),
        ("control", bytes([EOT])),
    ]
    assert link.idle
    assert receiver.state is ReceiverState.NEUTRAL


def test_nak_then_retransmission_then_success() -> None:
    link = Link()
    link.start_call(FALL)
    assert link.receive(bytes([ACK])) == [Send(FALL_FRAME)]
    assert link.receive(bytes([NAK])) == [Nakked(FALL, "block", 1), Retransmit(FALL_FRAME, 1)]
    assert link.receive(bytes([NAK])) == [Nakked(FALL, "block", 2), Retransmit(FALL_FRAME, 2)]
    assert link.receive(bytes([ACK])) == [Send(bytes([EOT])), Acked(FALL)]
    assert link.idle


def test_retries_exhausted_fail_the_call_and_end_the_transaction() -> None:
    link = Link(LinkSettings(max_retries=3))
    link.start_call(FALL)
    link.receive(bytes([ACK]))
    for attempt in (1, 2, 3):
        assert link.receive(bytes([NAK]))[-1] == Retransmit(FALL_FRAME, attempt)
    events = link.receive(bytes([NAK]))
    assert events == [
        Nakked(FALL, "block", 4),
        Send(bytes([EOT])),
        Failed("block refused (NAK) after 4 attempts", FALL),
    ]
    assert link.idle


def test_silence_leads_to_retransmission_and_at_last_failure() -> None:
    link = Link(LinkSettings(max_retries=1))
    link.start_call(FALL)
    assert link.timeout() == [Retransmit(b"\x041\x052\x05", 1)]  # EOT, then select again
    assert link.receive(bytes([ACK])) == [Send(FALL_FRAME)]
    assert link.timeout() == [Retransmit(FALL_FRAME, 1)]
    events = link.timeout()
    assert events[0] == Send(bytes([EOT]))
    assert isinstance(events[1], Failed)
    assert events[1].call == FALL
    assert link.idle


def test_a_paging_system_not_ready_is_selected_again() -> None:
    faults = ReceiverFaults(not_ready=2)
    link, receiver = Link(), Receiver(faults=faults)
    data = link.start_call(FALL)
    for _ in range(2):
        answer = outgoing(receiver.receive(data))
        assert answer == bytes([NAK])
        events = link.receive(answer)
        assert isinstance(events[0], Nakked)
        assert events[0].stage == "select"
        data = outgoing(events)
    wire = converse(link, receiver, data)
    assert ("control", FALL_FRAME) in wire
    assert wire[-1] == ("control", bytes([EOT]))
    assert link.idle


def test_call_status_is_read_when_the_paging_system_is_polled() -> None:
    link, receiver = Link(), Receiver()
    receiver.outbox.extend([status_block("1001", "2"), status_block("1001", "4")])
    statuses: list[CallStatus] = []
    data = link.poll()
    assert data == b"2\x05"
    while data:
        answer = outgoing(receiver.receive(data))
        events = link.receive(answer)
        statuses += [e for e in events if isinstance(e, CallStatus)]
        data = outgoing(events)
    assert statuses == [
        CallStatus("1001", "2", acknowledged=False),  # transmitted: nobody has seen it yet
        CallStatus("1001", "4", acknowledged=True),  # answered on the pager
    ]
    assert statuses[1].meaning == "answered (acknowledged on the pager)"
    assert not receiver.outbox
    assert link.idle
    # nothing more to report: the poll is answered with EOT
    assert converse(link, receiver, link.poll()) == [("control", b"2\x05"), ("pager", b"\x04")]


def test_which_call_status_counts_as_acknowledgement_is_configurable() -> None:
    link = Link(LinkSettings(ack_statuses=frozenset({"1", "4"})))
    link.poll()
    link.receive(b"1\x05")
    events = link.receive(status_block("1001", "1").encode())
    assert CallStatus("1001", "1", acknowledged=True) in events


def test_a_bad_status_block_is_answered_with_nak_and_sent_again() -> None:
    link = Link()
    link.poll()
    assert link.receive(b"1\x05") == [Send(bytes([ACK]))]
    good = status_block("1001", "4").encode()
    broken = good[:-1] + bytes([good[-1] ^ 0xFF])
    assert outgoing(link.receive(broken)) == bytes([NAK])
    assert CallStatus("1001", "4", acknowledged=True) in link.receive(good)
    link.receive(bytes([EOT]))
    assert link.idle


def test_the_receiver_refuses_a_block_without_a_selection() -> None:
    receiver = Receiver()
    events = receiver.receive(FALL_FRAME)
    assert outgoing(events) == bytes([NAK])
    assert not any(isinstance(e, CallReceived) for e in events)


def test_a_lost_connection_returns_the_unconfirmed_call() -> None:
    link = Link()
    link.start_call(FALL)
    link.receive(bytes([ACK]))
    assert link.reset() == FALL
    assert link.idle
    link.start_call(FALL)
    link.receive(bytes([ACK]))
    link.receive(bytes([ACK]))
    assert link.reset() is None  # confirmed: nothing to send again


# -- pages to calls ------------------------------------------------------------------------------


def test_a_page_becomes_a_call_to_its_recipients_pager() -> None:
    profile = CallProfile({"night": "1001", "day": "2002"}, display_width=20)
    call = profile.call_for(page("night", "critical", "Kamer 12: bewoner heeft kamer verlaten"))
    assert call == Call(
        "1001", "Kamer 12: bewoner he", beep=1, call_type=3, transmissions=3, priority=1
    )
    assert profile.call_for(page("day", "high")).priority == 1
    assert profile.call_for(page("day", "normal")).priority == 2
    assert profile.call_for(page("day", "low")).beep == 4


def test_a_page_for_a_recipient_without_a_pager_is_a_clear_error() -> None:
    with pytest.raises(
        UnknownRecipientError, match="no pager address configured for recipient 'nobody'"
    ):
        CallProfile({"night": "1001"}).call_for(page("nobody"))


def test_codes_per_priority_are_configurable() -> None:
    levels: tuple[Priority, ...] = ("critical", "high", "normal", "low")
    codes = {p: CallCodes(priority=9) for p in levels}
    call = CallProfile({"night": "1001"}, codes=codes).call_for(page())
    assert call == Call("1001", "Room 12: FALL", priority=9)
    assert FALL_FRAME not in call.encode()


@pytest.mark.parametrize(
    ("text", "width", "seven_bit", "shown"),
    [
        ("Kamer 12:\tval\r\nnu", 80, False, "Kamer 12: val nu"),
        ("Chambre 3 : chute élevée", 80, False, "Chambre 3 : chute élevée"),
        ("Chambre 3 : chute élevée", 80, True, "Chambre 3 : chute elevee"),
        ("Stra\u00dfe \u2013 \u20ac5 \u201cok\u201d", 80, True, 'Strasse - EUR5 "ok"'),
        ("e\u0301 \u2603 \u4e2d", 80, False, "é ? ?"),
        ("zero\u200bwidth and\x1ebreak", 80, False, "zerowidth and break"),
        ("Room 12: resident left the room", 12, False, "Room 12: res"),
    ],
)
def test_pager_text_fits_the_display(text: str, width: int, seven_bit: bool, shown: str) -> None:
    assert display_text(text, width, seven_bit=seven_bit) == shown
    Call("1", display_text(text, width, seven_bit=seven_bit))  # always sendable


def test_configuration_names_what_is_wrong() -> None:
    with pytest.raises(ValidationError, match="either host and port"):
        EspaConfig(host="pager", port=2023, device="/dev/ttyS0")
    with pytest.raises(ValidationError, match="needs both host and port"):
        EspaConfig(host="pager")
    with pytest.raises(ValidationError, match="seven_bit"):
        EspaConfig(device="/dev/ttyS0", bytesize=7)
    with pytest.raises(ValidationError, match="must be 1 to 16 digits"):
        EspaConfig(host="pager", port=2023, pagers={"night": "12ab"})
    with pytest.raises(ValidationError, match="extra"):
        EspaConfig.model_validate({"host": "pager", "port": 2023, "baudrate": 9600})
    config = EspaConfig(
        host="pager", port=2023, pagers={"night": "1001"}, priorities={"low": {"beep": 9}}
    )
    profile = profile_of(config)
    assert profile.call_for(page(priority="low")).beep == 9
    assert profile.call_for(page(priority="critical")).beep == 1
    assert settings_of(config).ack_statuses == frozenset({"4"})


# -- end to end over TCP -------------------------------------------------------------------------


@pytest.fixture
def pager() -> Iterator[PagerSimulator]:
    with PagerSimulator(ack_delay=0.05) as simulator:
        yield simulator


@pytest.fixture
def connect() -> Iterator[Callable[..., EspaClient]]:
    """``connect(simulator, **options)``: a started TCP client; stopped after the test."""
    made: list[EspaClient] = []

    def make(simulator: PagerSimulator, **options: Any) -> EspaClient:
        client = EspaTcpClient("127.0.0.1", simulator.port, **{**FAST, **options})
        made.append(client)
        client.start()
        assert client.wait_connected(WAIT), "the client did not connect"
        return client

    yield make
    for client in made:
        client.stop()


def test_a_page_reaches_the_paging_system_and_its_acknowledgement_comes_back(
    pager: PagerSimulator, connect: Callable[..., EspaClient]
) -> None:
    statuses: list[CallStatus] = []
    client = connect(
        pager,
        profile=CallProfile({"night": "1001"}),
        on_status=lambda address, status: statuses.append(status),
    )
    delivery = client.send_page(page("night", "critical", "Room 12: FALL"))
    assert delivery.wait(WAIT)
    assert delivery.delivered is True
    assert delivery.page_id == "inc-1/0"
    [received] = pager.wait_for_calls(1)
    assert received.call == FALL
    assert received.raw == FALL_FRAME
    wait_until(lambda: any(s.acknowledged for s in statuses), "the acknowledgement")
    assert [(s.address, s.status, s.acknowledged) for s in statuses] == [
        ("1001", "2", False),
        ("1001", "4", True),
    ]
    assert pager.errors == []


def test_two_naks_are_retried_and_the_call_arrives_once(
    pager: PagerSimulator, connect: Callable[..., EspaClient]
) -> None:
    pager.nak_next(2)
    client = connect(pager)
    delivery = client.send(FALL)
    assert delivery.wait(WAIT)
    assert delivery.delivered is True
    assert [r.call for r in pager.wait_for_calls(1)] == [FALL]
    assert pager.injected == ["NAK to a good block", "NAK to a good block"]
    assert pager.errors == []
    time.sleep(0.2)  # a few more polls: no second copy of the call
    assert len(pager.calls) == 1


def test_a_call_fails_when_the_paging_system_keeps_refusing_it(
    pager: PagerSimulator, connect: Callable[..., EspaClient]
) -> None:
    pager.nak_next(10)
    failed: list[str | None] = []
    client = connect(
        pager,
        settings=LinkSettings(max_retries=1),
        on_delivery=lambda d: failed.append(d.reason),
    )
    delivery = client.send(FALL)
    assert delivery.wait(WAIT)
    assert delivery.delivered is False
    assert failed == ["block refused (NAK) after 2 attempts"]
    assert pager.calls == []


def test_the_client_reconnects_when_the_paging_system_drops_the_connection(
    pager: PagerSimulator, connect: Callable[..., EspaClient]
) -> None:
    client = connect(pager)
    wait_until(lambda: pager.connections == 1, "the simulator to take the connection")
    pager.drop_connections()
    wait_until(lambda: client.connections == 2 and client.connected, "the reconnection")
    delivery = client.send(FALL)
    assert delivery.wait(WAIT)
    assert delivery.delivered is True
    [received] = pager.wait_for_calls(1)
    assert received.connection == 2


def test_a_call_cut_off_by_a_dropped_connection_is_sent_again_after_reconnecting(
    pager: PagerSimulator, connect: Callable[..., EspaClient]
) -> None:
    pager.drop_next(1)
    client = connect(pager)
    delivery = client.send(FALL)
    assert delivery.wait(WAIT)
    assert delivery.delivered is True
    assert delivery.attempts == 2
    [received] = pager.wait_for_calls(1)
    assert received.call == FALL
    assert received.connection == 2


def test_calls_queued_while_the_paging_system_is_away_go_out_in_order(
    connect: Callable[..., EspaClient],
) -> None:
    simulator = PagerSimulator(ack_delay=0.05)
    simulator.start()
    port = simulator.port
    client = connect(simulator)
    simulator.stop()
    calls = [Call(str(1000 + n), f"call {n}") for n in range(3)]
    deliveries = [client.send(call) for call in calls]
    time.sleep(0.2)
    assert not any(d.done for d in deliveries)
    with PagerSimulator(port=port, ack_delay=0.05) as back:
        assert all(d.wait(WAIT) for d in deliveries)
        assert [r.call for r in back.wait_for_calls(3)] == calls


def test_an_ignored_call_is_not_acknowledged_until_someone_does(
    connect: Callable[..., EspaClient],
) -> None:
    statuses: list[CallStatus] = []
    with PagerSimulator(ack_delay=0.05, ignore={"1003"}) as simulator:
        client = connect(simulator, on_status=lambda a, s: statuses.append(s))
        assert client.send(Call("1003", "Room 3: call")).wait(WAIT)
        [received] = simulator.wait_for_calls(1)
        assert received.will_acknowledge is False
        wait_until(lambda: len(statuses) == 1, "the transmitted status")
        assert not statuses[0].acknowledged
        simulator.ack("1003")
        wait_until(lambda: len(statuses) == 2, "the acknowledgement")
        assert statuses[1] == CallStatus("1003", "4", acknowledged=True)


def test_acknowledgements_by_chance_follow_the_seed() -> None:
    def decisions(seed: int) -> list[bool]:
        simulator = PagerSimulator(ack_probability=0.5, seed=seed)
        return [simulator._decide(Call(str(n))) for n in range(20)]

    assert decisions(7) == decisions(7)
    assert 0 < sum(decisions(7)) < 20


# -- end to end over a serial line ---------------------------------------------------------------


def test_the_serial_client_speaks_espa_over_a_tty() -> None:
    master, slave = os.openpty()
    device = os.ttyname(slave)
    statuses: list[CallStatus] = []
    simulator = PagerSimulator(ack_delay=0.05)
    simulator.attach(master, device)
    client = EspaSerialClient(device, 9600, on_status=lambda a, s: statuses.append(s), **FAST)
    try:
        client.start()
        delivery = client.send(FALL)
        assert delivery.wait(WAIT)
        assert delivery.delivered is True
        [received] = simulator.wait_for_calls(1)
        assert received.raw == FALL_FRAME
        wait_until(lambda: any(s.acknowledged for s in statuses), "the acknowledgement")
        assert simulator.errors == []
    finally:
        client.stop()
        simulator.stop()
        os.close(slave)


# -- the simulator's command line ----------------------------------------------------------------


def test_the_simulator_command_prints_the_calls_it_receives() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "simulators.espa_pager", "--port", "0", "--ack-delay", "0.05"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "listening on 127.0.0.1:" in first
        port = int(first.rsplit(":", 1)[1])
        client = EspaTcpClient("127.0.0.1", port, **FAST)
        with client:
            assert client.send(FALL).wait(WAIT)
            lines: list[str] = []
            while not any("status 4 for 1001" in line for line in lines):
                lines.append(process.stdout.readline())
        assert any("call to 1001" in line and "'Room 12: FALL'" in line for line in lines)
    finally:
        process.send_signal(signal.SIGINT)
        try:  # reading what it still prints: with its pipe full it could not stop
            process.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:  # how fast it stops is not this test's subject
            process.kill()
            process.communicate()  # reaped: no process outlives the test


def test_a_silent_paging_system_is_taken_for_dead_and_connected_again() -> None:
    """A peer that accepts TCP but never answers (a hung converter) does not hold the link."""
    with socket.create_server(("127.0.0.1", 0)) as listener:  # never accepts: the kernel does
        port = listener.getsockname()[1]
        client = EspaTcpClient(
            "127.0.0.1", port, **{**FAST, "response_timeout": 0.05, "dead_after": 2}
        )
        with client:
            wait_until(lambda: client.connections >= 2, "a second connection")


def test_the_serial_line_settings_become_termios_flags() -> None:
    import termios  # noqa: PLC0415 - POSIX only, like the serial transport

    cc: list[bytes | int] = [b"\x00"] * 32
    iflag, oflag, cflag, lflag, ispeed, ospeed, chars = raw_mode(
        cc, termios.B9600, bytesize=7, parity="E", stopbits=2
    )
    assert isinstance(cflag, int)
    assert isinstance(iflag, int)
    assert cflag & termios.CSIZE == termios.CS7
    assert cflag & termios.PARENB
    assert not cflag & termios.PARODD
    assert cflag & termios.CSTOPB
    assert iflag & termios.INPCK
    assert oflag == lflag == 0
    assert ispeed == ospeed == termios.B9600
    assert isinstance(chars, list)
    assert chars[termios.VMIN] == chars[termios.VTIME] == 0
    odd = raw_mode(cc, termios.B9600, bytesize=8, parity="O", stopbits=1)[2]
    assert isinstance(odd, int)
    assert odd & termios.CSIZE == termios.CS8
    assert odd & termios.PARODD
    assert not odd & termios.CSTOPB
    with pytest.raises(ValueError, match="baud rate 12345"):
        SerialTransport("/dev/null", 12345)


def test_the_serial_port_is_put_in_raw_mode() -> None:
    """On a pseudo-terminal (Linux ptys always keep 8 bits and no parity)."""
    import termios  # noqa: PLC0415 - POSIX only, like the serial transport

    master, slave = os.openpty()
    transport = SerialTransport(os.ttyname(slave), 19200, stopbits=2)
    try:
        transport.open()
        iflag, oflag, cflag, lflag, ispeed, ospeed, _ = termios.tcgetattr(slave)
        assert cflag & termios.CSIZE == termios.CS8
        assert cflag & termios.CSTOPB
        assert not lflag & (termios.ICANON | termios.ECHO | termios.ISIG)
        assert not oflag & termios.OPOST
        assert not iflag & (termios.ICRNL | termios.IXON)
        assert ispeed == ospeed == termios.B19200
        transport.write(b"2\x05")
        assert os.read(master, 16) == b"2\x05"
        os.write(master, b"\r\x04")
        assert transport.read(1.0) == b"\r\x04"  # no CR translation
    finally:
        transport.close()
        os.close(master)
        os.close(slave)
