"""Sensor sources in the rule file: compiled per site, every mistake at its own line."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import pytest

from sensorhub.commands import rules as check
from sensorhub.rules import RuleError, RuleFileError, load_policy
from sensorhub.sources import DeviceSpec

HEAD = """\
version: 1
sites:
  zon:
    rooms: {kamer1: {}, kamer2: {}}
    sources:
"""


def write(tmp_path: Path, sources: str, head: str = HEAD, tail: str = "") -> Path:
    """``head`` with ``sources`` (indented YAML under ``sources:``) and ``tail`` after it."""
    body = textwrap.indent(textwrap.dedent(sources).strip("\n"), " " * 6)
    path = tmp_path / "site.yaml"
    more = textwrap.indent(textwrap.dedent(tail), "  ")  # another site
    path.write_text(f"{head}{body}\n{more}", encoding="utf-8")
    return path


def errors_of(path: Path) -> list[RuleError]:
    with pytest.raises(RuleFileError) as caught:
        load_policy(path)
    return caught.value.errors


def run_check(path: Path) -> int:
    parser = argparse.ArgumentParser()
    check.add_arguments(parser)
    return check.run(parser.parse_args([str(path)]))


def test_a_zigbee2mqtt_source_compiles_to_its_devices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        """
        z2m:
          preset: zigbee2mqtt
          devices:
            kamer1-deur: {room: kamer1, kind: door}
            kamer 2/knop: {room: kamer2, kind: call, device: kamer2-knop}
        """,
    )
    [source] = load_policy(path).sources
    assert (source.name, source.preset, source.base) == ("z2m", "zigbee2mqtt", "zigbee2mqtt")
    assert source.devices == {
        "kamer1-deur": DeviceSpec("zon", "kamer1", "door", "kamer1-deur"),
        "kamer 2/knop": DeviceSpec("zon", "kamer2", "call", "kamer2-knop"),
    }
    assert run_check(path) == 0
    assert capsys.readouterr().out == f"{path}: OK (1 site, 2 rooms, 2 devices of sensor sources)\n"


def test_a_source_without_devices_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "z2m: {preset: zigbee2mqtt, base: z2m-oost}")
    assert run_check(path) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:6: sites.zon.sources.z2m: warning: source 'z2m' lists no devices: nothing "
        "under z2m-oost/ becomes an event; list them under devices",
        f"{path}: OK (1 site, 2 rooms), 1 warning",
    ]


def test_a_file_without_sources_has_none() -> None:
    assert load_policy().sources == ()


@pytest.mark.parametrize(
    ("sources", "line", "key", "message"),
    [
        (
            """
            z2m:
              preset: zigbee2mqt
            """,
            7,
            "sites.zon.sources.z2m.preset",
            "'zigbee2mqt' is not a preset of sensorhub: did you mean 'zigbee2mqtt'?",
        ),
        (
            """
            z2m:
              preset: zigbee2mqtt
              devices:
                kamer1-deur: {room: kamer1, kind: door}
                kamer3-deur: {room: kamer3, kind: door}
            """,
            10,
            "sites.zon.sources.z2m.devices.kamer3-deur.room",
            "room 'kamer3' is not one of this site's rooms: did you mean",
        ),
        (
            """
            z2m:
              preset: zigbee2mqtt
              devices:
                kamer1-cam:
                  room: kamer1
                  kind: optical
            """,
            11,
            "sites.zon.sources.z2m.devices.kamer1-cam.kind",
            "kind 'optical' is not one that Zigbee2MQTT devices are mapped to: use door, "
            "motion, bed, call",
        ),
        (
            """
            z2m:
              preset: zigbee2mqtt
              devices:
                kamer1/deur: {room: kamer1, kind: door}
            """,
            9,
            "sites.zon.sources.z2m.devices.kamer1/deur",
            "device name 'kamer1/deur' cannot be part of an MQTT topic: use 1-64 letters, "
            "digits, '_', '.', '-': give it one with device: NAME",
        ),
        (
            """
            z2m:
              preset: zigbee2mqtt
              devices:
                deur-a: {room: kamer1, kind: door, device: deur}
                deur-b: {room: kamer1, kind: door, device: deur}
            """,
            10,
            "sites.zon.sources.z2m.devices.deur-b",
            "'deur-b' would be the same device as sources.z2m.devices.deur-a",
        ),
        (
            """
            z2m:
              preset: zigbee2mqtt
              base: zigbee2mqtt/#
            """,
            8,
            "sites.zon.sources.z2m.base",
            "'zigbee2mqtt/#' is not a base topic",
        ),
        (
            """
            z2m:
              preset: zigbee2mqtt
              ts: {field: last_seen, format: epoch}
            """,
            8,
            "sites.zon.sources.z2m.ts.format",
            "'epoch' is not allowed: format must be unix, unix_ms or rfc3339",
        ),
        (
            """
            z2m:
              preset: zigbee2mqtt
              devices:
                kamer1-deur: {room: kamer1, kind: door}
                kamer1-deur: {room: kamer2, kind: door}
            """,
            10,
            "sites.zon.sources.z2m.devices.kamer1-deur",
            "'kamer1-deur' is set twice in the same place (first on line 9)",
        ),
        (
            """
            z2m:
              preset: zigbee2mqtt
              fields:
                contact: {kind: door, when_true: closed, when_false: opened}
            """,
            9,
            "sites.zon.sources.z2m.fields.contact.when_false",
            "'opened' is not an event of kind 'door': use none or open, closed, heartbeat, "
            "battery_low, fault",
        ),
        (
            """
            z2m:
              preset: zigbee2mqtt
              fields:
                battery:
                  at_most: 15
            """,
            10,
            "sites.zon.sources.z2m.fields.battery.at_most",
            "give at_most and event together",
        ),
        (
            """
            z2m:
              preset: zigbee2mqtt
              fields:
                water_leak: {when_true: open}
            """,
            9,
            "sites.zon.sources.z2m.fields.water_leak.when_true",
            "'open' is not a device health event: use none or heartbeat, battery_low, fault",
        ),
        (
            """
            z2m:
              preset: zigbee2mqtt
              names: {pattern: "{room}/{toestel}", kinds: {deur: door}}
            """,
            8,
            "sites.zon.sources.z2m.names.pattern",
            "'{room}/{toestel}': '{toestel}' is not a placeholder: use {room}, {kind} and {device}",
        ),
        (
            """
            z2m:
              preset: zigbee2mqtt
              names: {pattern: "{room}{device}", kinds: {deur: door}}
            """,
            8,
            "sites.zon.sources.z2m.names.pattern",
            "write a separator (such as - or /) between two placeholders",
        ),
        (
            """
            z2m:
              preset: zigbee2mqtt
              names:
                pattern: "{room}/{device}"
                kinds: {deur: door, cam: optical}
            """,
            10,
            "sites.zon.sources.z2m.names.kinds.cam",
            "kind 'optical' is not one that Zigbee2MQTT devices are mapped to",
        ),
        (
            """
            z2m:
              preset: zigbee2mqtt
              names: {pattern: "{room}/{device}"}
            """,
            8,
            "sites.zon.sources.z2m.names",
            "without {kind} in the pattern, give kinds",
        ),
    ],
    ids=[
        "unknown-preset",
        "unknown-room",
        "kind-not-mapped",
        "name-not-a-topic-level",
        "same-contract-device",
        "wildcard-base",
        "bad-ts-format",
        "duplicate-friendly-name",
        "field-event-not-of-its-kind",
        "threshold-without-event",
        "health-field-with-a-care-event",
        "names-unknown-placeholder",
        "names-placeholders-together",
        "names-kind-not-mapped",
        "names-without-kinds",
    ],
)
def test_a_mistake_in_a_source_is_reported_at_its_line(
    tmp_path: Path, sources: str, line: int, key: str, message: str
) -> None:
    path = write(tmp_path, sources)
    [error] = errors_of(path)
    assert (error.line, error.key) == (line, key), error
    assert message in error.message
    assert run_check(path) != 0


def test_a_device_of_one_zigbee2mqtt_in_two_sources_is_a_mistake(tmp_path: Path) -> None:
    """Two sites on one Zigbee2MQTT (one base topic): each device is in one of them."""
    path = write(
        tmp_path,
        """
        z2m-a:
          preset: zigbee2mqtt
          devices: {kamer1-deur: {room: kamer1, kind: door}}
        """,
        tail="""\
          hof:
            rooms: {kamer1: {}}
            sources:
              z2m-b:
                preset: zigbee2mqtt
                devices:
                  kamer1-deur: {room: kamer1, kind: door}
        """,
    )
    [error] = errors_of(path)
    assert (error.line, error.key) == (15, "sites.hof.sources.z2m-b.devices.kamer1-deur")
    assert "also listed under sites.zon.sources.z2m-a.devices" in error.message


def test_a_source_name_is_unique_in_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        z2m:
          preset: zigbee2mqtt
        """,
        tail="""\
          hof:
            sources:
              z2m: {preset: zigbee2mqtt, base: z2m-hof}
        """,
    )
    [error] = errors_of(path)
    assert (error.line, error.key) == (10, "sites.hof.sources.z2m")
    assert "source 'z2m' is also defined under sites.zon.sources" in error.message


def test_the_example_in_docs_sources_loads(tmp_path: Path) -> None:
    """The rule file a technician copies from docs/sources.md is valid as written."""
    text = (Path(__file__).parents[2] / "docs" / "sources.md").read_text(encoding="utf-8")
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "site.yaml"
    path.write_text(textwrap.dedent(block), encoding="utf-8")
    [source] = load_policy(path).sources
    assert source.devices["kamer 2/knop"] == DeviceSpec("zonnehof", "kamer2", "call", "kamer2-knop")
    assert len(source.devices) == 5
    assert run_check(path) == 0


def test_the_commented_sources_in_the_example_site_file_load(tmp_path: Path) -> None:
    """rules/example-site.yaml carries a Zigbee2MQTT source as comments; uncommented it is
    valid."""
    example = Path(__file__).parents[2] / "rules" / "example-site.yaml"
    lines = example.read_text(encoding="utf-8").splitlines()
    start = lines.index("    # sources:")
    end = start + 1
    while end < len(lines) and lines[end].startswith("    #   "):
        end += 1
    uncommented = [line.replace("    # ", "    ", 1) for line in lines[start:end]]
    path = tmp_path / "example.yaml"
    path.write_text("\n".join([*lines[:start], *uncommented, *lines[end:]]) + "\n")
    [source] = load_policy(path).sources
    assert source.devices["201-deur"] == DeviceSpec("zonnebloem", "201", "door", "201-deur")
    assert run_check(path) == 0


def test_a_vs373_source_takes_optical_radars_and_says_so_at_the_line(tmp_path: Path) -> None:
    """The VS373 preset maps to optical events only: another kind is a mistake at its line,
    and ``ts: received`` is taken instead of the radar's own time."""
    path = write(
        tmp_path,
        """
        radar:
          preset: vs373
          ts: received
          devices:
            kamer1-radar: {room: kamer1, kind: optical}
            kamer2-radar: {room: kamer2, kind: bed}
        """,
    )
    [error] = errors_of(path)
    assert (error.line, error.key) == (11, "sites.zon.sources.radar.devices.kamer2-radar.kind")
    assert "kind 'bed' is not one that Milesight VS373 devices are mapped to: use optical" in (
        error.message
    )
    path.write_text(path.read_text().replace("kind: bed", "kind: optical"))
    [source] = load_policy(path).sources
    assert (source.preset, source.base, source.ts.field) == ("vs373", "vs373", None)
    assert run_check(path) == 0


@pytest.mark.parametrize("title", ["## Milesight VS373", "## Home Assistant", "## Frigate"])
def test_the_preset_examples_in_docs_sources_load(tmp_path: Path, title: str) -> None:
    """A preset's section of docs/sources.md: each source it shows, and each of its fields:
    examples under the first source, copied under a site's sources:, is valid as written."""
    text = (Path(__file__).parents[2] / "docs" / "sources.md").read_text(encoding="utf-8")
    section = text.split(title, 1)[1].split("\n## ", 1)[0]
    blocks = [block.split("```", 1)[0] for block in section.split("```yaml\n")[1:]]
    sources = [block for block in blocks if not block.startswith("        ")]
    more = [sources[0] + block for block in blocks if block.startswith("        ")]
    rooms = "    rooms: {kamer1: {}, kamer2: {}}\n    sources:\n"
    path = tmp_path / "site.yaml"
    for source in [*sources, *more]:
        path.write_text("version: 1\nsites:\n  zon:\n" + rooms + source, encoding="utf-8")
        [spec] = load_policy(path).sources
        assert len(spec.devices) >= 1
        assert run_check(path) == 0


def test_a_home_assistant_source_takes_binary_sensors_of_its_kinds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        ha:
          preset: homeassistant
          devices:
            binary_sensor.kamer1_deur: {room: kamer1, kind: door}
            binary_sensor.kamer2_knop: {room: kamer2, kind: call}
        """,
    )
    [error] = errors_of(path)
    assert (error.line, error.key) == (
        10,
        "sites.zon.sources.ha.devices.binary_sensor.kamer2_knop.kind",
    )
    assert "use door, motion, bed" in error.message


def test_camera_zones_are_a_frigate_cameras_and_are_bed_or_door(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        nvr:
          preset: frigate
          devices:
            kamer1: {room: kamer1, kind: optical, zones: {kamer1_bed: bed, kamer1_deur: door}}
            kamer2: {room: kamer2, kind: optical, zones: {kamer2_bad: bathroom}}
        """,
    )
    [error] = errors_of(path)
    assert (error.line, error.key) == (10, "sites.zon.sources.nvr.devices.kamer2.zones.kamer2_bad")
    assert "must be bed or door" in error.message
    path.write_text(path.read_text().replace("kamer2_bad: bathroom", "kamer2_bed: bed"))
    [source] = load_policy(path).sources
    assert source.devices["kamer1"].zones == (("kamer1_bed", "bed"), ("kamer1_deur", "door"))
    assert run_check(path) == 0

    path = write(
        tmp_path,
        """
        z2m:
          preset: zigbee2mqtt
          devices:
            kamer1-deur: {room: kamer1, kind: door, zones: {deur: door}}
        """,
    )
    [error] = errors_of(path)
    assert (error.line, error.key) == (9, "sites.zon.sources.z2m.devices.kamer1-deur.zones")
    assert "Zigbee2MQTT devices have no zones: zones are a Frigate camera's" in error.message
