"""The site simulator: a week of a care home with its ground truth and the census of a
conventional system, reproducible, consistent with itself and with what the classifier counts."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest
from simulators.site import (
    SiteRun,
    main,
    simulate_site,
    site_files,
    site_policy,
    site_rooms,
    write_site,
)
from simulators.ward import MAX_DELAY, to_line

from sensorhub.codec.payload import decode_line
from sensorhub.commands.evaluate import load_census
from sensorhub.commands.replay import replay
from sensorhub.contract import DeadLetter
from sensorhub.core.care import CONVENTIONAL_REARM
from sensorhub.evaluation.truth import DEADLINES, GroundTruth
from sensorhub.rules import load_policy

#: The week of issue 3: it contains the night of 24 to 25 October 2026, when the clocks go back.
WEEK_START = date(2026, 10, 22)

#: The things issue 3 asks a week of a site to show, as episode labels.
ISSUE_LABELS = (
    "turning over",
    "toilet visit",
    "toilet visit, too long",
    "sitting on the bed edge",
    "fall",
    "blanket falls (fall look-alike)",
    "kneeling (fall look-alike)",
    "call",
    "call, pressed again",
    "call, cancelled by the resident",
    "wandering, came back alone",
    "wandering, brought back",
    "cough",
    "calling out",
    "round: care (presence button)",
    "round: a look (no presence button)",
    "camera obstructed",
    "device battery low",
    "device goes silent",
)


@pytest.fixture(scope="module")
def week() -> SiteRun:
    """36 rooms over 7 nights with late events and malformed lines, generated once."""
    return simulate_site(36, 7, WEEK_START, 1, 0.02, 0.001)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[SiteRun, Path]:
    """6 rooms over 2 nights, written to disk."""
    run = simulate_site(6, 2, date(2026, 11, 20), 3, 0.05, 0.005)
    stem = tmp_path_factory.mktemp("site") / "small"
    write_site(run, stem)
    return run, stem


def lines(run: SiteRun) -> list[str]:
    return [to_line(entry) for entry in run.recording]


def test_the_same_seed_gives_the_same_site_and_another_seed_another() -> None:
    first = simulate_site(4, 2, WEEK_START, 7, 0.05, 0.01)
    again = simulate_site(4, 2, WEEK_START, 7, 0.05, 0.01)
    assert lines(first) == lines(again)
    assert first.truth == again.truth
    assert first.census == again.census
    other = simulate_site(4, 2, WEEK_START, 8, 0.05, 0.01)
    assert lines(other) != lines(first)


def test_a_night_happens_the_same_whatever_nights_follow_it() -> None:
    """Each night is seeded from (seed, night index): adding nights keeps the earlier ones."""
    two = simulate_site(6, 2, WEEK_START, 5)
    three = simulate_site(6, 3, WEEK_START, 5)

    def care(run: SiteRun, nights: set[str]) -> list[tuple[str, str, float]]:
        return [
            (i.room, i.kind, i.start)
            for i in run.truth.incidents
            if i.audience == "care" and i.night in nights
        ]

    assert care(two, set(two.truth.nights)) == care(three, set(two.truth.nights))


def test_residents_keep_their_profile_and_the_mix_has_every_kind_of_room() -> None:
    rooms = site_rooms(36)
    assert len({room.name for room in rooms}) == 36
    assert rooms[0].name == "101"
    assert rooms[12].name == "201"
    assert sum(room.fall_risk == "high" for room in rooms) >= 6
    assert sum(room.wanders for room in rooms) >= 4
    assert all(room.has_motion for room in rooms if room.wanders)
    assert any(room.bathroom_grace < 900 for room in rooms)
    assert any(not room.has_acoustic for room in rooms)
    assert any(not room.has_optical for room in rooms)
    assert any(not room.has_bed_mat for room in rooms)


def test_truth_incidents_have_a_deadline_after_their_start_in_a_room_that_exists(
    week: SiteRun,
) -> None:
    rooms = {room.room: room for room in week.truth.rooms}
    episodes = {episode.id: episode for episode in week.truth.episodes}
    assert week.truth.incidents
    for incident in week.truth.incidents:
        assert incident.deadline > incident.start
        assert incident.room in rooms
        episode = episodes[incident.episode]
        assert episode.room == incident.room
        assert incident.night == episode.night
        assert (incident.audience == "technical") == (incident.kind == "device_fault")
        assert (incident.device is not None) == (incident.kind == "device_fault")
        expected = DEADLINES[incident.kind]
        if incident.kind == "absent_too_long":
            expected += rooms[incident.room].bathroom_grace
        assert incident.deadline - incident.start == pytest.approx(expected, abs=0.002)


def test_the_census_rearms_per_device_after_60_s_and_counts_doors_only_for_wanderers(
    week: SiteRun,
) -> None:
    wanderers = {room.room for room in week.truth.rooms if room.wanders}
    last: dict[tuple[str, str, str, str], float] = {}
    for alarm in week.census:
        key = (alarm.site, alarm.room, alarm.kind, alarm.device)
        if key in last:
            assert alarm.ts - last[key] >= CONVENTIONAL_REARM
        last[key] = alarm.ts
        if alarm.kind in ("door", "motion"):
            assert alarm.room in wanderers
    assert [a.ts for a in week.census] == sorted(a.ts for a in week.census)


def test_the_census_judges_each_room_by_the_site_rule_file(week: SiteRun) -> None:
    """The census reads who wanders and how loud is loud from the policy the site's rule file
    compiles to, room by room: what replay decides the recording with."""
    policy = site_policy(week.wards[0])
    for profile in week.rooms:
        room = policy.room(week.site, profile.name)
        assert room.wanders == profile.wanders
        assert room.bathroom_grace == profile.bathroom_grace
        assert (
            room.acoustic_threshold
            == load_policy().room(week.site, profile.name).acoustic_threshold
        )


def test_an_alarm_is_actionable_when_its_episode_has_an_actionable_care_incident(
    week: SiteRun,
) -> None:
    actionable = {i.episode for i in week.truth.incidents if i.audience == "care"}
    episodes = {episode.id: episode for episode in week.truth.episodes}
    for alarm in week.census:
        assert alarm.actionable == (alarm.episode in actionable)
        if alarm.episode is not None:
            episode = episodes[alarm.episode]
            assert episode.room == alarm.room
            assert episode.start - 120 <= alarm.ts <= episode.end + 120


def test_the_census_is_what_the_classifier_counts_and_it_catches_every_incident(
    small: tuple[SiteRun, Path], tmp_path: Path
) -> None:
    """replay's raw alarms equal the census; every truth incident is paged within its deadline
    and nothing else is paged (the shipped reference policy)."""
    run, stem = small
    files = site_files(stem)
    pages_path = tmp_path / "pages.jsonl"
    summary = replay(files.recording, load_policy(files.rules), pages_path)
    assert summary.raw_alarms == len(run.census)
    assert summary.dead_letters == run.malformed
    reactions = [
        page
        for page in map(json.loads, pages_path.read_text().splitlines())
        if page["escalation"] == 0
    ]
    unmatched = list(reactions)
    for incident in run.truth.incidents:
        caught = [
            page
            for page in unmatched
            if (page["room"], page["kind"], page["audience"])
            == (incident.room, incident.kind, incident.audience)
            and incident.start - 1 <= page["ts"] <= incident.deadline
        ]
        assert caught, f"missed {incident}"
        unmatched.remove(caught[0])
    assert unmatched == []


def test_the_night_the_clocks_go_back_lasts_ten_hours(week: SiteRun) -> None:
    """22:00 CEST on 24 October 2026 to 07:00 CET on the 25th: ten hours of real time."""
    nights = {ward.date: ward for ward in week.wards}
    ward = nights[date(2026, 10, 24)]
    start, end = ward.night_bounds()
    assert end - start == 10 * 3600
    assert datetime.fromtimestamp(start, ward.zone).strftime("%H:%M %Z") == "22:00 CEST"
    assert datetime.fromtimestamp(end, ward.zone).strftime("%H:%M %Z") == "07:00 CET"
    assert {d: n.night_bounds()[1] - n.night_bounds()[0] for d, n in nights.items()} == {
        d: 10 * 3600 if d == date(2026, 10, 24) else 9 * 3600 for d in nights
    }
    assert "2026-10-24" in week.truth.nights
    # the resident's night goes on through the repeated hour
    repeated = [e for e in week.truth.episodes if start + 4 * 3600 <= e.start < start + 5 * 3600]
    assert repeated


def test_the_actionable_share_is_as_in_dutch_nursing_homes() -> None:
    """Roughly a fifth to a quarter of the conventional alarms need a carer in the room."""
    run = simulate_site(12, 3, date(2026, 11, 2), 1)
    assert 0.15 <= run.actionable_share <= 0.30
    assert run.best_reduction > 0.85


def test_a_week_shows_everything_the_issue_lists(week: SiteRun) -> None:
    labels = Counter(episode.label for episode in week.truth.episodes)
    assert set(ISSUE_LABELS) <= set(labels), set(ISSUE_LABELS) - set(labels)
    assert set(DEADLINES) == {incident.kind for incident in week.truth.incidents}
    events = week.events
    assert sum(e["event"] == "heartbeat" for e in events) > 100_000
    assert week.late > 0
    assert week.malformed > 0
    # staff respond to incidents: staff arrive in the episodes of falls and calls
    staff_in = defaultdict(list)
    for event in events:
        if event["event"] == "staff_in":
            staff_in[event["room"]].append(event["ts"])
    falls = [e for e in week.truth.episodes if e.label == "fall"]
    assert falls
    for fall in falls:
        assert any(fall.start < t <= fall.end for t in staff_in[fall.room])


def test_late_events_are_at_most_ten_seconds_late_and_bad_lines_are_dead_letters(
    small: tuple[SiteRun, Path],
) -> None:
    run, _ = small
    latest = float("-inf")
    late = 0
    malformed = 0
    for number, entry in enumerate(run.recording, start=1):
        decoded = decode_line(to_line(entry).encode("utf-8"), 0.0, f"site:{number}")
        if isinstance(entry, str):
            malformed += 1
            assert isinstance(decoded, DeadLetter)
            continue
        assert not isinstance(decoded, DeadLetter), decoded
        if entry["ts"] < latest:
            late += 1
            assert latest - entry["ts"] <= MAX_DELAY
        latest = max(latest, entry["ts"])
    assert late > 0
    assert malformed == run.malformed > 0


def test_ids_are_unique_per_device_over_the_whole_run(small: tuple[SiteRun, Path]) -> None:
    run, _ = small
    ids = [(e["device"], e["id"]) for e in run.events]
    assert len(ids) == len(set(ids))


def test_the_files_read_back(small: tuple[SiteRun, Path]) -> None:
    run, stem = small
    files = site_files(stem)
    assert files.recording.name == "small.jsonl.gz"
    assert GroundTruth.load(files.truth) == run.truth
    assert load_census(files.census) == run.census
    policy = load_policy(files.rules)
    for room in run.rooms:
        resolved = policy.room(run.site, room.name)
        assert (resolved.fall_risk, resolved.wanders, resolved.bathroom_grace) == (
            room.fall_risk,
            room.wanders,
            room.bathroom_grace,
        )


def test_the_command_line_writes_the_four_files_and_prints_the_share(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "week.jsonl"
    assert main(["--rooms", "3", "--nights", "2", "--seed", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "night 2 2026-10-23" in printed
    assert "actionable share" in printed
    assert "best possible reduction" in printed
    for name in ("week.jsonl", "week.truth.json", "week.census.jsonl", "week.rules.yaml"):
        assert (tmp_path / name).is_file()
