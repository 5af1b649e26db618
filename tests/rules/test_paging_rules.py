"""Paging systems in the rule file: loaded per site, checked against the staff, at their lines."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import pytest

from sensorhub.commands import rules as check
from sensorhub.rules import (
    EspaConfig,
    PagingSystem,
    RuleError,
    RuleFileError,
    load_policy,
    load_rule_file,
)

REPO = Path(__file__).parents[2]
EXAMPLE = REPO / "rules" / "example-site.yaml"

STAFF = """\
version: 1
sites:
  zon:
    recipients: {care: night, technical: tech}
    staff:
      pagers:
        e1: {address: "3101"}
        e2: {address: "3102"}
        t1: {address: "3900"}
      groups:
        night: [e1, e2]
        tech: [t1]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def with_paging(tmp_path: Path, paging: str, head: str = STAFF) -> Path:
    """``head`` with ``paging`` (indented YAML under ``paging:``) added to site ``zon``."""
    body = textwrap.indent(textwrap.dedent(paging).strip("\n"), " " * 6)
    return write(tmp_path, f"{head}    paging:\n{body}\n")


def errors_of(path: Path) -> list[RuleError]:
    with pytest.raises(RuleFileError) as caught:
        load_policy(path)
    return caught.value.errors


def run_check(path: Path) -> int:
    parser = argparse.ArgumentParser()
    check.add_arguments(parser)
    return check.run(parser.parse_args([str(path)]))


def test_paging_systems_of_every_site_are_on_the_policy_by_name(tmp_path: Path) -> None:
    path = with_paging(
        tmp_path,
        """
        dect-1: {host: 10.0.0.5, port: 4000, pagers: {night: "120", e1: "3101"}}
        serial-1: {device: /dev/ttyS0, baud: 19200, pagers: {tech: "3900"}}
        """,
    )
    systems = load_policy(path).paging_systems()
    assert list(systems) == ["dect-1", "serial-1"]
    dect = systems["dect-1"]
    assert dect == PagingSystem("dect-1", "zon", dect.config)
    assert (dect.config.host, dect.config.port, dect.config.device) == ("10.0.0.5", 4000, None)
    assert dect.config.pagers == {"night": "120", "e1": "3101"}
    assert dect.config.where == "tcp://10.0.0.5:4000"
    serial = systems["serial-1"].config
    assert (serial.device, serial.baud, serial.serial) == ("/dev/ttyS0", 19200, True)


def test_a_file_without_paging_systems_has_none() -> None:
    assert load_policy().paging_systems() == {}
    assert load_policy(EXAMPLE).paging_systems() == {}


def test_the_commented_example_in_the_example_site_file_loads(tmp_path: Path) -> None:
    """rules/example-site.yaml carries a paging system as comments; uncommented it is valid."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index("    # paging:")
    end = start + 1
    while lines[end].startswith("    #   "):
        end += 1
    uncommented = [line.replace("    # ", "    ", 1) for line in lines[start:end]]
    path = tmp_path / "example.yaml"
    path.write_text("\n".join([*lines[:start], *uncommented, *lines[end:]]) + "\n")
    [(name, system)] = load_policy(path).paging_systems().items()
    assert (name, system.site, system.config.port) == ("dect-1", "zonnebloem", 4000)
    assert "nachtdienst-oost" in system.config.pagers
    assert run_check(path) == 0


def test_an_unknown_pager_is_a_mistake_at_its_line_with_a_suggestion(tmp_path: Path) -> None:
    path = with_paging(
        tmp_path,
        """
        dect-1:
          host: 10.0.0.5
          port: 4000
          pagers:
            nigth: "120"
            zz: "3109"
        """,
    )
    first, second = errors_of(path)
    assert (first.line, first.key) == (18, "sites.zon.paging.dect-1.pagers.nigth")
    assert "'nigth' is not defined under staff.groups: did you mean 'night'?" in first.message
    assert (second.line, second.key) == (19, "sites.zon.paging.dect-1.pagers.zz")
    assert "neither a pager (staff.pagers) nor a group" in second.message


def test_without_staff_the_pagers_must_be_the_sites_recipients(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A site that does not describe its staff pages its recipients (the shipped ones here)."""
    head = "version: 1\nsites:\n  zon:\n"
    good = with_paging(tmp_path, 'dect-1: {host: h, port: 1, pagers: {night-team: "1"}}', head)
    assert load_policy(good).paging_systems()["dect-1"].config.pagers == {"night-team": "1"}
    bad = with_paging(tmp_path, 'dect-1: {host: h, port: 1, pagers: {nigth-team: "1"}}', head)
    [error] = errors_of(bad)
    assert "'nigth-team' gets no pages of site 'zon': did you mean 'night-team'?" in error.message
    assert "('night-team', 'technicians')" in error.message
    assert run_check(bad) == 1
    assert (
        capsys.readouterr()
        .out.splitlines()[0]
        .startswith(
            f"{bad}:5: sites.zon.paging.dect-1.pagers.nigth-team: 'nigth-team' gets no pages"
        )
    )


def test_without_staff_a_rooms_own_recipients_may_be_paged(tmp_path: Path) -> None:
    head = (
        "version: 1\nsites:\n  zon:\n    rooms:\n      12:\n"
        "        recipients: {care: west, technical: tech}\n"
    )
    path = with_paging(tmp_path, 'dect-1: {host: h, port: 1, pagers: {west: "2", tech: "9"}}', head)
    assert list(load_policy(path).paging_systems()) == ["dect-1"]


@pytest.mark.parametrize(
    ("paging", "complaint"),
    [
        ("{host: h, port: 1, device: /dev/ttyS0}", "either host and port (TCP) or device"),
        ("{host: h}", "ESPA over TCP needs both host and port"),
        ("{port: 4000}", "ESPA over TCP needs both host and port"),
        ("{}", "give host and port (TCP) or device (serial port)"),
        ("{device: /dev/ttyS0, bytesize: 7}", "seven_bit"),
        ("{host: h, port: 70000}", "port must be between 1 and 65535, not 70000"),
    ],
)
def test_bad_host_port_and_device_combinations_are_mistakes_at_the_system(
    tmp_path: Path, paging: str, complaint: str
) -> None:
    path = with_paging(tmp_path, f"dect-1: {paging}")
    [error] = errors_of(path)
    assert error.line == 14
    assert error.key.startswith("sites.zon.paging.dect-1")
    assert complaint in error.message


def test_a_misspelt_setting_gets_a_suggestion(tmp_path: Path) -> None:
    path = with_paging(tmp_path, "dect-1:\n  device: /dev/ttyS0\n  baudrate: 9600\n")
    [error] = errors_of(path)
    assert (error.line, error.key) == (16, "sites.zon.paging.dect-1.baudrate")
    assert "did you mean 'baud'?" in error.message


def test_a_call_address_written_as_a_number_must_be_quoted(tmp_path: Path) -> None:
    path = with_paging(tmp_path, "dect-1: {host: h, port: 1, pagers: {e1: 3101}}")
    [error] = errors_of(path)
    assert error.key == "sites.zon.paging.dect-1.pagers.e1"
    assert "put it in quotes" in error.message


def test_a_paging_system_name_is_unique_in_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        version: 1
        sites:
          zon:
            paging:
              dect-1: {host: a, port: 1}
          maan:
            paging:
              dect-1: {host: b, port: 1}
        """,
    )
    [error] = errors_of(path)
    assert (error.line, error.key) == (8, "sites.maan.paging.dect-1")
    assert "also defined under sites.zon.paging" in error.message


def test_a_paging_system_name_must_fit_an_outbox_channel(tmp_path: Path) -> None:
    path = with_paging(tmp_path, "'dect 1': {host: h, port: 1}")
    [error] = errors_of(path)
    assert error.key == "sites.zon.paging.dect 1"
    assert "cannot be part of an outbox channel" in error.message


def test_check_warns_about_an_address_that_differs_from_the_staffs_and_no_pagers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = with_paging(
        tmp_path,
        """
        dect-1: {host: h, port: 1, pagers: {e1: "3111", night: "100"}}
        spare: {host: h, port: 2}
        """,
    )
    assert run_check(path) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{path}:14: sites.zon.paging.dect-1.pagers.e1: warning: pager 'e1' has call address "
        "'3101' under staff.pagers but '3111' here: paging system 'dect-1' calls '3111'; is "
        "that meant?",
        f"{path}:15: sites.zon.paging.spare: warning: paging system 'spare' names no pagers, so "
        "no page goes to it: add pagers: {<pager or group>: <call address>}",
        f"{path}: OK (1 site, 0 rooms), 2 warnings",
    ]


def test_the_config_model_has_one_definition() -> None:
    """io.espa re-exports the rule file's model: there is one EspaConfig."""
    from sensorhub.io import espa  # noqa: PLC0415 - the point of the test

    assert espa.EspaConfig is EspaConfig
    assert load_rule_file(EXAMPLE).sites["zonnebloem"].paging == {}
