"""``sensorhub board`` in a real headless Chromium (Debian's ``chromium`` and ``chromedriver``,
driven by selenium), against a real Mosquitto, an in-process serve and its SQLite store: a call
published shows as a page on the ward board within a second, without the page reloading.

The screenshot of the ward is kept under build/ as an artefact (not committed).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService

from sensorhub.contract import ACK_TOPIC
from sensorhub.store import open_existing_store
from sensorhub.testing.broker import PrivateBroker
from tests.conftest import WAIT, Names, RunningService, TestClient, wait_until

from .test_durable import RULES, page_of
from .test_serve import event

Serve = Callable[..., RunningService]
MakeClient = Callable[..., TestClient]
ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "build" / "board"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def chromium() -> Iterator[webdriver.Chrome]:
    """Headless Chromium; fails (not skips) where Debian's chromium is not installed."""
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.fail(
            "chromium and chromedriver are missing: run scripts/setup "
            "(apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800"):
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options, service=ChromeService(executable_path=driver))
    try:
        yield browser
    finally:
        browser.quit()


def _start_board(
    mosquitto: PrivateBroker, store: Path, rules: Path
) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    board = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sensorhub",
            "board",
            "--store",
            f"sqlite:///{store}",
            "--broker",
            mosquitto.url,
            "--rules",
            str(rules),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ.copy(),
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert board.poll() is None, f"the board stopped: {board.stdout and board.stdout.read()}"
        try:
            with urllib.request.urlopen(url, timeout=1.0):
                return True
        except OSError:
            return False

    wait_until(answers, "the board answers")
    return board, url


def _read(browser: webdriver.Chrome, selector: str) -> list[str]:
    """The text of each element that ``selector`` selects now."""
    texts: list[str] = browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent.trim())",
        selector,
    )
    return texts


@pytest.mark.mqtt
def test_a_call_shows_on_the_board_within_a_second_without_reload(  # noqa: PLR0917 - fixtures
    serve: Serve,
    mqtt_client: MakeClient,
    mosquitto: PrivateBroker,
    names: Names,
    tmp_path: Path,
    chromium: webdriver.Chrome,
) -> None:
    rules = tmp_path / "rules.yaml"
    text = RULES.format(site=names.site, first="60s", second="2m")
    dutch = text.replace(f"  {names.site}:\n", f"  {names.site}:\n    language: nl\n")
    rules.write_text(dutch, encoding="utf-8")
    serve(rules=rules)  # creates the store, says online (retained) on sensorhub/status
    board, url = _start_board(mosquitto, tmp_path / "sensorhub.db", rules)
    try:
        chromium.get(f"{url}/site/{names.site}")
        # the board has subscribed once it heard serve's retained status (each push replaces
        # the ward's elements: read them in the page, in one go)
        wait_until(lambda: _read(chromium, "#service") == ["online"], "the board hears serve")
        assert "Geen open meldingen." in chromium.page_source
        chromium.execute_script("window.sameDocument = true")

        client = mqtt_client([names.pages])
        client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
        (first,) = client.wait_for(page_of(0, "12"))
        paged = time.monotonic()
        wait_until(lambda: _read(chromium, "#ward td.room") == ["12"], "the page", timeout=5.0)
        shown = time.monotonic() - paged
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        chromium.save_screenshot(str(ARTEFACTS / "ward.png"))
        assert shown < 1.0, f"the page took {shown:.2f} s to show"
        assert chromium.execute_script("return window.sameDocument") is True  # no reload
        (row,) = _read(chromium, f'tr[data-incident="{first.json()["incident"]}"]')
        assert "oproep" in row  # the site's language: Dutch
        assert "night-east" in row  # who was paged
        assert "nog niet" in row  # not acknowledged
    finally:
        board.terminate()
        board.communicate(timeout=WAIT)  # reads to the end and closes the pipe


def _html(url: str) -> str:
    with urllib.request.urlopen(url, timeout=WAIT) as response:  # noqa: S310 - http://127.0.0.1
        text: str = response.read().decode()
        return text


@pytest.mark.mqtt
def test_the_board_shows_acknowledgements_and_after_a_restart_what_the_store_holds(
    serve: Serve, mqtt_client: MakeClient, mosquitto: PrivateBroker, names: Names, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.format(site=names.site, first="60s", second="2m"), encoding="utf-8")
    serve(rules=rules)
    client = mqtt_client([names.pages])
    client.publish(names.topic("12", "call"), event(0, "pressed", id="c1"))
    (first,) = client.wait_for(page_of(0, "12"))
    incident = first.json()["incident"]
    site = f"/site/{names.site}"

    board, url = _start_board(mosquitto, tmp_path / "sensorhub.db", rules)
    try:  # the page came before the board: it is read from the store
        wait_until(lambda: f'data-incident="{incident}"' in _html(url + site), "from the store")
        assert "not yet" in _html(url + site)  # the site's language: English
        client.publish(f"{ACK_TOPIC}/{names.site}", {"incident": incident, "by": "east-1"})
        wait_until(lambda: "east-1" in _html(url + site), "the acknowledgement on the board")
    finally:
        board.terminate()
        board.communicate(timeout=WAIT)

    # a new board reads the acknowledgement from serve's store, once serve has written it there
    def acknowledged() -> bool:
        with open_existing_store(f"sqlite:///{tmp_path / 'sensorhub.db'}") as store:
            return any(row["status"] == "acknowledged" for row in store.incidents())

    wait_until(acknowledged, "serve keeps the acknowledgement")
    board, url = _start_board(mosquitto, tmp_path / "sensorhub.db", rules)
    try:
        wait_until(lambda: "east-1" in _html(url + site), "the acknowledgement from the store")
    finally:
        board.terminate()
        board.communicate(timeout=WAIT)
