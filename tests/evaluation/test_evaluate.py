"""``sensorhub evaluate``: pages matched against a hand-made ground truth and census."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sensorhub.cli import main
from sensorhub.contract import Audience, IncidentKind, Page
from sensorhub.evaluation.scoring import Evaluation, evaluate, night_of, percentile_of
from sensorhub.evaluation.truth import (
    DEADLINES,
    ConventionalAlarm,
    Episode,
    GroundTruth,
    RoomTruth,
    TruthIncident,
    write_census,
)

SITE = "zonnehof"
TZ = "Europe/Amsterdam"
NIGHT = "2026-11-20"
#: 23:00 local time on the first night
T0 = datetime(2026, 11, 20, 23, 0, tzinfo=ZoneInfo(TZ)).timestamp()
CARE_PAGER = "nurses"
TECH_PAGER = "technician"


def incident(
    room: str,
    kind: IncidentKind,
    start: float,
    *,
    episode: int = 1,
    night: str = NIGHT,
    device: str | None = None,
) -> TruthIncident:
    audience: Audience = "technical" if kind == "device_fault" else "care"
    return TruthIncident(
        site=SITE,
        room=room,
        night=night,
        kind=kind,
        audience=audience,
        start=start,
        deadline=start + DEADLINES[kind],
        episode=episode,
        device=device,
    )


def episode(
    id_: int, room: str, label: str, start: float, end: float, *, night: str = NIGHT
) -> Episode:
    return Episode(id=id_, site=SITE, room=room, night=night, label=label, start=start, end=end)


def page(
    page_id: str,
    room: str,
    kind: IncidentKind,
    ts: float,
    *,
    audience: Audience | None = None,
    escalation: int = 0,
    recipient: str | None = None,
    site: str = SITE,
) -> Page:
    if audience is None:
        audience = "technical" if kind == "device_fault" else "care"
    if recipient is None:
        recipient = TECH_PAGER if audience == "technical" else CARE_PAGER
    return Page(
        page_id=page_id,
        incident=page_id.split("/", maxsplit=1)[0],
        site=site,
        room=room,
        kind=kind,
        priority="high",
        audience=audience,
        ts=ts,
        escalation=escalation,
        recipient=recipient,
        text=f"Room {room}: {kind}",
        events=[],
    )


def census(count: int, *, start: float = T0, night: str = NIGHT) -> list[ConventionalAlarm]:
    return [
        ConventionalAlarm(
            ts=start + 70 * n,
            site=SITE,
            room="101",
            kind="bed",
            device="mat-101",
            event="vacated",
            night=night,
            actionable=False,
        )
        for n in range(count)
    ]


def truth(
    incidents: list[TruthIncident],
    episodes: list[Episode] | None = None,
    nights: list[str] | None = None,
) -> GroundTruth:
    return GroundTruth(
        site=SITE,
        timezone=TZ,
        seed=1,
        nights=nights or [NIGHT],
        rooms=[RoomTruth(room=room) for room in ("101", "102", "103")],
        episodes=episodes or [],
        incidents=incidents,
    )


def write_inputs(
    folder: Path,
    ground: GroundTruth,
    pages: list[Page],
    alarms: list[ConventionalAlarm],
) -> tuple[Path, Path]:
    """STEM.truth.json, STEM.census.jsonl and pages.jsonl in ``folder``."""
    truth_path = folder / "site.truth.json"
    ground.save(truth_path)
    write_census(alarms, folder / "site.census.jsonl")
    pages_path = folder / "pages.jsonl"
    pages_path.write_text("".join(p.model_dump_json() + "\n" for p in pages), encoding="utf-8")
    return truth_path, pages_path


def only(evaluation: Evaluation) -> str:
    (outcome,) = evaluation.care
    return outcome.status


# --- matching ----------------------------------------------------------------------------------


def test_a_reaction_within_the_deadline_catches_the_incident() -> None:
    result = evaluate(
        truth([incident("101", "fall", T0)]), [page("a/0", "101", "fall", T0 + 10)], census(10)
    )
    assert only(result) == "caught"
    assert result.recall == 1.0
    assert result.care[0].latency == pytest.approx(10.0)
    assert result.needless == ()
    assert result.missed == ()
    assert result.late == ()
    assert result.passed


def test_a_reaction_a_second_before_the_start_still_counts_but_not_earlier() -> None:
    """The window is [start - 1 s, deadline]."""
    just = evaluate(truth([incident("101", "call", T0)]), [page("a/0", "101", "call", T0 - 1)], [])
    assert only(just) == "caught"
    early = evaluate(truth([incident("101", "call", T0)]), [page("a/0", "101", "call", T0 - 5)], [])
    assert only(early) == "missed"
    assert len(early.needless) == 1


def test_a_page_of_another_room_or_kind_does_not_catch() -> None:
    result = evaluate(
        truth([incident("101", "fall", T0)]),
        [page("a/0", "102", "fall", T0 + 5), page("b/0", "101", "bed_exit", T0 + 5)],
        [],
    )
    assert only(result) == "missed"
    assert len(result.needless) == 2


def test_escalations_and_technical_pages_are_not_reactions() -> None:
    result = evaluate(
        truth([incident("101", "fall", T0)]),
        [page("a/1", "101", "fall", T0 + 5, escalation=1)],
        [],
    )
    assert result.reactions == 0
    assert only(result) == "missed"


def test_a_page_after_the_deadline_is_late_and_counts_as_missed() -> None:
    result = evaluate(
        truth([incident("101", "fall", T0)]), [page("a/0", "101", "fall", T0 + 20)], census(10)
    )
    assert only(result) == "late"
    assert result.recall == 0.0
    (late,) = result.late
    assert late.late_by == pytest.approx(5.0)
    assert result.missed == ()
    assert result.needless == (), "a late answer is not a needless reaction"
    assert not result.passed
    document = result.to_json()
    assert document["late"][0]["late_by_s"] == pytest.approx(5.0)
    assert document["by_kind"]["fall"]["late"] == 1
    assert document["by_kind"]["fall"]["recall"] == 0.0


def test_a_page_long_after_the_incident_is_not_late_but_needless() -> None:
    result = evaluate(
        truth(
            [incident("101", "fall", T0, episode=1)],
            [episode(1, "101", "fall", T0, T0 + 120)],
        ),
        [page("a/0", "101", "fall", T0 + 3600)],
        [],
    )
    assert only(result) == "missed"
    assert [n.cause for n in result.needless] == ["nothing scripted"]


def test_one_reaction_cannot_match_two_incidents() -> None:
    first = incident("101", "call", T0, episode=1)
    second = incident("101", "call", T0 + 1, episode=2)
    result = evaluate(truth([first, second]), [page("a/0", "101", "call", T0 + 1.5)], [])
    assert [o.status for o in result.care] == ["caught", "missed"]
    assert result.care[0].incident == first
    assert result.recall == 0.5


def test_greedy_in_time_order_gives_each_incident_its_own_reaction() -> None:
    incidents = [incident("101", "call", T0, episode=1), incident("101", "call", T0 + 1)]
    pages = [page("b/0", "101", "call", T0 + 2.5), page("a/0", "101", "call", T0 + 0.5)]
    result = evaluate(truth(incidents), pages, [])
    assert [o.status for o in result.care] == ["caught", "caught"]
    assert [o.page.page_id for o in result.care if o.page] == ["a/0", "b/0"]


# --- needless reactions ------------------------------------------------------------------------


def test_a_needless_reaction_is_attributed_to_the_episode_it_overlaps() -> None:
    episodes = [
        episode(1, "101", "blanket falling", T0, T0 + 60),
        episode(2, "102", "toilet visit", T0, T0 + 600),
    ]
    pages = [
        page("a/0", "101", "fall", T0 + 30),
        page("b/0", "102", "absent_too_long", T0 + 300),
        page("c/0", "102", "bed_exit", T0 + 900),
    ]
    result = evaluate(truth([], episodes), pages, census(10))
    causes = {n.page.page_id: n.cause for n in result.needless}
    assert causes == {
        "a/0": "blanket falling",
        "b/0": "toilet visit",
        "c/0": "nothing scripted",
    }
    assert result.needless[0].episodes == (1,)
    assert dict(result.needless_by_cause()) == {
        "blanket falling": 1,
        "toilet visit": 1,
        "nothing scripted": 1,
    }
    assert result.to_json()["needless"]["by_cause"]["blanket falling"] == 1


def test_a_second_reaction_to_a_paged_incident_is_a_needless_duplicate() -> None:
    ground = truth(
        [incident("101", "fall", T0, episode=1)], [episode(1, "101", "fall", T0, T0 + 300)]
    )
    pages = [page("a/0", "101", "fall", T0 + 10), page("b/0", "101", "fall", T0 + 12)]
    result = evaluate(ground, pages, [])
    assert only(result) == "caught"
    (extra,) = result.needless
    assert extra.duplicate
    assert extra.cause == "fall (already paged)"


# --- the figures ---------------------------------------------------------------------------------


def test_recall_per_kind() -> None:
    incidents = [
        incident("101", "fall", T0, episode=1),
        incident("102", "fall", T0 + 100, episode=2),
        incident("103", "call", T0 + 200, episode=3),
    ]
    pages = [page("a/0", "101", "fall", T0 + 10), page("b/0", "103", "call", T0 + 201)]
    result = evaluate(truth(incidents), pages, census(30))
    kinds = {k.kind: k for k in result.by_kind}
    assert kinds["fall"].recall == 0.5
    assert (kinds["fall"].caught, kinds["fall"].missed) == (1, 1)
    assert kinds["call"].recall == 1.0
    assert result.recall == pytest.approx(2 / 3)
    (missed,) = result.missed
    assert missed.incident.room == "102"
    document = result.to_json()
    assert document["by_kind"]["call"]["recall"] == 1.0
    assert document["missed"][0]["local_time"] == "2026-11-20 23:01:40 CET"
    assert document["missed"][0]["night"] == NIGHT


def test_reduction_and_best_possible_reduction() -> None:
    incidents = [incident("101", "call", T0 + 100 * n, episode=n) for n in range(4)]
    pages = [page(f"p{n}/0", "101", "call", T0 + 100 * n + 1) for n in range(4)]
    pages.append(page("x/0", "102", "fall", T0))
    result = evaluate(truth(incidents), pages, census(40))
    assert result.conventional_alarms == 40
    assert result.reactions == 5
    assert result.best_possible_reduction == pytest.approx(1 - 4 / 40)
    assert result.reduction == pytest.approx(1 - 5 / 40)


def test_no_census_gives_no_reduction_rather_than_a_division_by_zero() -> None:
    result = evaluate(truth([]), [page("a/0", "101", "fall", T0)], [])
    assert result.reduction is None
    assert result.to_json()["reduction"] is None


def test_latency_percentiles_are_nearest_rank_and_the_deadline_is_shown() -> None:
    incidents = [incident("101", "fall", T0 + 100 * n, episode=n) for n in range(10)]
    pages = [page(f"p{n}/0", "101", "fall", T0 + 100 * n + n + 1) for n in range(10)]
    result = evaluate(truth(incidents), pages, [])
    (fall,) = result.by_kind
    assert fall.latency(50) == 5.0
    assert fall.latency(90) == 9.0
    assert fall.latency(99) == 10.0
    assert fall.latency(100) == 10.0
    latency = result.to_json()["by_kind"]["fall"]["latency_s"]
    assert latency == {"p50": 5.0, "p90": 9.0, "p99": 10.0, "max": 10.0, "n": 10}
    assert result.to_json()["by_kind"]["fall"]["deadline_s"] == DEADLINES["fall"]
    assert percentile_of([], 50) is None


def test_technical_incidents_are_matched_against_technical_pages_of_the_room() -> None:
    incidents = [
        incident("101", "device_fault", T0, episode=1, device="mat-101"),
        incident("102", "device_fault", T0, episode=2, device="cam-102"),
    ]
    pages = [page("t/0", "101", "device_fault", T0 + 200)]
    result = evaluate(truth(incidents), pages, [])
    assert [o.status for o in result.technical] == ["caught", "missed"]
    assert result.technical_recall == 0.5
    assert result.recall is None, "no care incidents: care recall is undefined"
    assert result.reactions == 0


def test_technical_pages_sent_to_care_staff_are_counted() -> None:
    pages = [
        page("c/0", "101", "call", T0),  # a care page to the nurses' pager
        page("a/0", "102", "device_fault", T0 + 10, audience="care"),
        page("b/0", "103", "device_fault", T0 + 20, recipient=CARE_PAGER),
        page("d/0", "103", "device_fault", T0 + 30),  # to the technician: fine
    ]
    result = evaluate(truth([]), pages, [])
    assert [leak.page.page_id for leak in result.care_leaks] == ["a/0", "b/0"]
    assert result.to_json()["technical_pages_to_care"]["count"] == 2
    assert not result.passed


def test_reactions_are_counted_per_night_in_the_site_time_zone() -> None:
    second_night = "2026-11-21"
    early_morning = datetime(2026, 11, 21, 3, 0, tzinfo=ZoneInfo(TZ)).timestamp()
    next_evening = datetime(2026, 11, 21, 23, 0, tzinfo=ZoneInfo(TZ)).timestamp()
    assert night_of(early_morning, TZ) == NIGHT
    pages = [
        page("a/0", "101", "fall", early_morning),
        page("b/0", "101", "fall", next_evening),
        page("c/0", "101", "fall", next_evening + 60),
    ]
    alarms = census(20) + census(30, start=next_evening, night=second_night)
    result = evaluate(truth([], nights=[NIGHT, second_night]), pages, alarms)
    rows = {row.night: (row.conventional_alarms, row.reactions) for row in result.per_night}
    assert rows == {NIGHT: (20, 1), second_night: (30, 2)}
    assert result.per_night[1].reduction == pytest.approx(1 - 2 / 30)


def test_repeated_page_ids_and_pages_of_other_sites_are_left_out() -> None:
    once = page("a/0", "101", "call", T0 + 1)
    result = evaluate(
        truth([incident("101", "call", T0)]),
        [once, once, page("z/0", "101", "call", T0 + 1, site="elsewhere")],
        [],
    )
    assert result.reactions == 1
    assert (result.duplicate_pages, result.other_site_pages) == (1, 1)


# --- the command ---------------------------------------------------------------------------------

TOP_LEVEL_KEYS = {
    "version",
    "site",
    "timezone",
    "nights",
    "rooms",
    "conventional_alarms",
    "reactions",
    "reduction",
    "care_incidents",
    "best_possible_reduction",
    "recall",
    "technical_recall",
    "passed",
    "pages",
    "by_kind",
    "missed",
    "late",
    "needless",
    "technical",
    "technical_pages_to_care",
    "per_night",
}
KIND_KEYS = {
    "audience",
    "incidents",
    "caught",
    "late",
    "missed",
    "recall",
    "deadline_s",
    "deadline_min_s",
    "latency_s",
    "pages",
    "needless",
}


def mixed_site(folder: Path) -> tuple[Path, Path]:
    """A night with a caught fall, a missed call, a needless reaction and a device fault."""
    ground = truth(
        [
            incident("101", "fall", T0, episode=1),
            incident("102", "call", T0 + 600, episode=2),
            incident("103", "device_fault", T0 + 1200, episode=3, device="mat-103"),
        ],
        [
            episode(1, "101", "fall", T0, T0 + 300),
            episode(2, "102", "resident call", T0 + 600, T0 + 700),
            episode(3, "103", "battery low", T0 + 1200, T0 + 1800),
            episode(4, "103", "toilet visit", T0 + 2000, T0 + 2600),
        ],
    )
    pages = [
        page("f/0", "101", "fall", T0 + 10),
        page("f/1", "101", "fall", T0 + 130, escalation=1),
        page("t/0", "103", "device_fault", T0 + 1300),
        page("n/0", "103", "absent_too_long", T0 + 2500),
    ]
    return write_inputs(folder, ground, pages, census(50))


def test_json_report_has_the_documented_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth_path, pages_path = mixed_site(tmp_path)
    out = tmp_path / "report.json"
    status = main(["evaluate", str(truth_path), str(pages_path), "--json", str(out)])
    assert status == 0
    table = capsys.readouterr().out
    assert "missed incidents: 1" in table
    document = json.loads(out.read_text(encoding="utf-8"))
    assert set(document) == TOP_LEVEL_KEYS
    assert set(document["by_kind"]) == {"fall", "call", "device_fault", "absent_too_long"}
    for figures in document["by_kind"].values():
        assert set(figures) == KIND_KEYS
    assert set(document["pages"]) == {
        "total",
        "reactions",
        "technical",
        "duplicates_ignored",
        "other_site_ignored",
    }
    assert set(document["needless"]) == {"total", "by_cause", "reactions"}
    assert set(document["technical"]) == {
        "incidents",
        "caught",
        "late",
        "missed",
        "recall",
        "pages",
        "needless",
    }
    assert set(document["per_night"][0]) == {
        "night",
        "conventional_alarms",
        "reactions",
        "reduction",
        "incidents",
        "not_caught",
    }
    assert document["conventional_alarms"] == 50
    assert document["reactions"] == 2
    assert document["reduction"] == pytest.approx(1 - 2 / 50)
    assert document["best_possible_reduction"] == pytest.approx(1 - 2 / 50)
    assert document["recall"] == 0.5
    assert document["technical_recall"] == 1.0
    assert document["needless"]["by_cause"] == {"toilet visit": 1}
    assert [m["kind"] for m in document["missed"]] == ["call"]

    png = tmp_path / "report.png"
    args = [str(truth_path), str(pages_path), "--format", "json", "--png", str(png)]
    assert main(["evaluate", *args]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == document, "stdout is only the JSON report"
    assert f"wrote {png}" in captured.err


def test_png_report_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth_path, pages_path = mixed_site(tmp_path)
    png = tmp_path / "report.png"
    assert main(["evaluate", str(truth_path), str(pages_path), "--png", str(png)]) == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000
    assert f"wrote {png}" in capsys.readouterr().out


def test_matplotlib_is_imported_only_to_draw_a_png() -> None:
    """Scoring, the table and the command load without matplotlib (a slow import)."""
    code = (
        "import sys, sensorhub.commands.evaluate, sensorhub.evaluation.plot; "
        "print('matplotlib' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_a_capture_of_a_live_serve_is_read_too(tmp_path: Path) -> None:
    """Lines of {"topic", "payload"}; messages on other topics are left out."""
    truth_path, pages_path = mixed_site(tmp_path)
    lines = []
    for raw in pages_path.read_text(encoding="utf-8").splitlines():
        body = json.loads(raw)
        topic = f"sensorhub/pages/{SITE}/{body['recipient']}"
        lines.append({"topic": topic, "payload": body})
    lines.append({"topic": "sensorhub/pages/zonnehof/nurses", "payload": json.dumps(body)})
    lines.append({"topic": "sensorhub/deadletter", "payload": {"error": "not JSON"}})
    capture = tmp_path / "capture.jsonl"
    capture.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    out = tmp_path / "capture.json"
    assert main(["evaluate", str(truth_path), str(capture), "--json", str(out)]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["reactions"] == 2
    assert document["pages"]["duplicates_ignored"] == 1


def test_fail_on_miss_exit_codes(tmp_path: Path) -> None:
    truth_path, pages_path = mixed_site(tmp_path)
    assert main(["evaluate", str(truth_path), str(pages_path)]) == 0
    assert main(["evaluate", str(truth_path), str(pages_path), "--fail-on-miss"]) == 1

    good = tmp_path / "good"
    good.mkdir()
    truth_path, pages_path = write_inputs(
        good,
        truth([incident("101", "fall", T0)]),
        [page("f/0", "101", "fall", T0 + 10)],
        census(5),
    )
    assert main(["evaluate", str(truth_path), str(pages_path), "--fail-on-miss"]) == 0

    leaky = tmp_path / "leaky"
    leaky.mkdir()
    truth_path, pages_path = write_inputs(
        leaky,
        truth([incident("101", "fall", T0)]),
        [
            page("f/0", "101", "fall", T0 + 10),
            page("t/0", "101", "device_fault", T0 + 20, audience="care"),
        ],
        census(5),
    )
    assert main(["evaluate", str(truth_path), str(pages_path), "--fail-on-miss"]) == 1


def bad(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run evaluate on bad input: it must exit 2 with a one-paragraph message, no traceback."""
    status = main(["evaluate", *args])
    error = capsys.readouterr().err
    assert status == 2
    assert "Traceback" not in error
    assert error.startswith("sensorhub evaluate: ")
    return error


def test_bad_input_gives_a_clear_error_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth_path, pages_path = mixed_site(tmp_path)

    error = bad(tmp_path, capsys, str(tmp_path / "nothing.truth.json"), str(pages_path))
    assert "nothing.truth.json: no such file" in error

    broken_truth = tmp_path / "broken.truth.json"
    broken_truth.write_text('{\n "site": "zonnehof",\n "timezone": \n}\n', encoding="utf-8")
    error = bad(tmp_path, capsys, str(broken_truth), str(pages_path))
    assert f"{broken_truth}:4: not valid JSON" in error

    wrong_truth = tmp_path / "wrong.truth.json"
    document = json.loads(truth_path.read_text(encoding="utf-8"))
    del document["incidents"][0]["deadline"]
    wrong_truth.write_text(json.dumps(document), encoding="utf-8")
    error = bad(tmp_path, capsys, str(wrong_truth), str(pages_path), "--census", "x")
    assert "incidents[0].deadline: Field required" in error

    zone_truth = tmp_path / "zone.truth.json"
    document = json.loads(truth_path.read_text(encoding="utf-8"))
    document["timezone"] = "Europe/Atlantis"
    zone_truth.write_text(json.dumps(document), encoding="utf-8")
    error = bad(tmp_path, capsys, str(zone_truth), str(pages_path), "--census", "x")
    assert "'Europe/Atlantis' is not a known IANA time zone" in error

    lines = pages_path.read_text(encoding="utf-8").splitlines()
    bad_kind = tmp_path / "bad-kind.jsonl"
    bad_kind.write_text(lines[0] + "\n" + lines[1].replace('"fall"', '"falls"') + "\n")
    error = bad(tmp_path, capsys, str(truth_path), str(bad_kind))
    assert f"{bad_kind}:2: not a page: kind: Input should be" in error
    assert '"falls"' in error

    not_json = tmp_path / "not-json.jsonl"
    not_json.write_text(lines[0] + "\n\n" + lines[1][:-3] + "\n")
    error = bad(tmp_path, capsys, str(truth_path), str(not_json))
    assert f"{not_json}:3: not a JSON object" in error

    census_path = tmp_path / "bad.census.jsonl"
    census_path.write_text('{"ts": 1}\n', encoding="utf-8")
    error = bad(tmp_path, capsys, str(truth_path), str(pages_path), "--census", str(census_path))
    assert f"{census_path}:1: not a conventional alarm" in error

    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "site.truth.json").write_text(truth_path.read_text(encoding="utf-8"))
    error = bad(tmp_path, capsys, str(lonely / "site.truth.json"), str(pages_path))
    assert "site.census.jsonl: no census next to the truth; give its path with --census" in error


def test_the_table_names_what_matters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth_path, pages_path = mixed_site(tmp_path)
    assert main(["evaluate", str(truth_path), str(pages_path)]) == 0
    table = capsys.readouterr().out
    for expected in (
        "conventional alarms       50",
        "reduction              96.0%",
        "recall                 0.500",
        "technical pages to care staff 0",
        "2026-11-20 23:10:00 CET   night 2026-11-20  room 102    call",
        "needless reactions: 1",
        "toilet visit",
    ):
        assert expected in table, expected


# --- end to end: the site simulator, replay, evaluate ---------------------------------------------


def test_end_to_end_a_simulated_site_replayed_is_caught_in_full(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """END-TO-END (simulators.site -> replay -> evaluate): with its own rule file, sensorhub
    catches every actionable incident of a small simulated site in time, late events and
    malformed lines included, and sends no technical page to care staff."""
    from simulators.site import simulate_site, write_site  # noqa: PLC0415 (only this test)

    from sensorhub.commands.replay import replay  # noqa: PLC0415
    from sensorhub.rules import load_policy  # noqa: PLC0415

    run = simulate_site(8, 1, date(2026, 10, 24), 3, 0.05, 0.002)
    files = write_site(run, tmp_path / "site")
    pages = tmp_path / "pages.jsonl"
    replay(files.recording, load_policy(files.rules), pages)
    out = tmp_path / "report.json"
    status = main(["evaluate", str(files.truth), str(pages), "--json", str(out), "--fail-on-miss"])
    table = capsys.readouterr().out
    assert status == 0, table
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["care_incidents"] > 0
    assert report["recall"] == 1.0, table
    assert all(k["recall"] in (1.0, None) for k in report["by_kind"].values()), table
    assert report["technical_pages_to_care"]["count"] == 0
    assert report["conventional_alarms"] == len(run.census)
