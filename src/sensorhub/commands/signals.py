"""The long-running commands' signals: SIGINT and SIGTERM stop them, SIGHUP reloads serve."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from contextlib import ExitStack
from types import FrameType

logger = logging.getLogger(__name__)


def handle(resources: ExitStack, signum: signal.Signals, action: Callable[[], None]) -> None:
    """On ``signum``, log it and run ``action`` (in the main thread, between two of its
    statements); the handler before is put back when ``resources`` closes."""

    def handler(number: int, frame: FrameType | None) -> None:
        logger.info("received %s", signal.Signals(number).name)
        action()

    previous = signal.signal(signum, handler)
    resources.callback(signal.signal, signum, previous)


def stopped_by_signals(resources: ExitStack) -> threading.Event:
    """An event that SIGINT and SIGTERM set: the command stops when it is set."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        handle(resources, signum, stop.set)
    return stop
