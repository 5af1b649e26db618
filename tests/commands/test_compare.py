"""``sensorhub rules compare``: two rule files replayed on a simulated site, side by side.

The two rule files differ in one resident's ``fall_risk`` (room 105: high in OLD, normal in
NEW); the only pages that differ must be that room's bed exits, each with NEW's reason."""

from __future__ import annotations

import gzip
import json
import re
from datetime import date
from itertools import islice
from pathlib import Path

import pytest
from simulators.site import SiteFiles, simulate_site, write_site

from sensorhub.cli import main
from sensorhub.commands.evaluate import load_pages
from sensorhub.commands.replay import replay
from sensorhub.contract import Page
from sensorhub.rules import load_policy

ROOM = "105"
#: NEW's audit on a bed exit of a resident not at high fall risk
GRACE_REASON = "pending: left the bed at night: paged if not back in bed within 15 min"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[SiteFiles, Path]:
    """Two nights of a 12-room site and the site's rule file with room 105 at normal risk."""
    folder = tmp_path_factory.mktemp("compare")
    files = write_site(simulate_site(12, 2, date(2026, 10, 22), 1, 0.02, 0.001), folder / "s")
    text = files.rules.read_text(encoding="utf-8")
    line = f'      "{ROOM}": {{resident: {{fall_risk: high}}}}'
    assert line in text
    new = folder / "new.yaml"
    new.write_text(text.replace(line, f'      "{ROOM}": {{}}'), encoding="utf-8")
    return files, new


@pytest.fixture(scope="module")
def old_pages(site: tuple[SiteFiles, Path], tmp_path_factory: pytest.TempPathFactory) -> list[Page]:
    """OLD's pages, by ``replay`` itself."""
    files, _ = site
    out = tmp_path_factory.mktemp("old") / "pages.jsonl"
    replay(files.recording, load_policy(files.rules), out)
    return load_pages(out)[0]


def compare(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main(["rules", "compare", "--quiet", *(str(a) for a in args)])
    out, err = capsys.readouterr()
    return code, out, err


def section(out: str, title: str) -> list[str]:
    """The rows of a section of the report (after its title and header, up to a blank line)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        rows.append(line)
    return rows


def test_one_residents_fall_risk_changes_only_that_residents_bed_exits(
    site: tuple[SiteFiles, Path], old_pages: list[Page], capsys: pytest.CaptureFixture[str]
) -> None:
    files, new = site
    code, out, _ = compare(capsys, files.rules, new, files.recording)
    assert code == 0
    expected = [p for p in old_pages if p.room == ROOM and p.kind == "bed_exit"]
    assert len(expected) >= 2, "the simulated site should have bed exits in room 105"
    assert "pages only NEW sends: none" in out
    assert f"pages only OLD sends: {len(expected)}\n" in out
    rows = section(out, "pages only OLD sends")
    assert len(rows) == len(expected)
    for row, page in zip(rows, expected, strict=True):
        cells = row.split()
        assert cells[3:7] == [ROOM, "bed_exit", str(page.escalation), page.recipient]
        assert row.endswith(GRACE_REASON), row
    reactions = sum(p.is_reaction for p in expected)
    total = sum(p.is_reaction for p in old_pages)
    assert f"reactions OLD {total}, NEW {total - reactions} " in out
    all_nights = next(line for line in out.splitlines() if line.startswith("all nights"))
    bed_exits = sum(p.is_reaction and p.kind == "bed_exit" for p in old_pages)
    assert f"{bed_exits} -> {bed_exits - reactions}" in all_nights


def test_a_changed_recipient_is_explained_by_the_others_routing(
    site: tuple[SiteFiles, Path],
    old_pages: list[Page],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Room 102's care pages to the technicians instead: the same pages to another recipient,
    the same reactions, each page's reason the other side's routing of that incident."""
    files, _ = site
    text = files.rules.read_text(encoding="utf-8")
    line = '      "102": {}'
    assert line in text
    other = tmp_path / "other.yaml"
    recipients = "{recipients: {care: technicians, technical: technicians}}"
    other.write_text(text.replace(line, f'      "102": {recipients}'), encoding="utf-8")
    code, out, _ = compare(capsys, files.rules, other, files.recording)
    assert code == 0
    moved = [p for p in old_pages if p.room == "102" and p.audience == "care"]
    assert moved
    only_old, only_new = section(out, "pages only OLD sends"), section(out, "pages only NEW sends")
    assert len(only_old) == len(only_new) == len(moved)
    for row, page in zip(only_old, moved, strict=True):
        assert row.split()[3:7] == ["102", page.kind, str(page.escalation), "night-team"]
        n = page.escalation
        escalated = f"escalated: not acknowledged: re-sent to technicians (escalation {n})"
        said = escalated if n else "routed: the site's recipients.care technicians"
        assert said in row, row
    for row in only_new:
        assert row.split()[6] == "technicians"
        assert "night-team" in row.split("technicians", 1)[1]
    assert " -> " not in "\n".join(section(out, "reactions per night"))


def test_a_rule_file_against_itself_has_no_difference(
    site: tuple[SiteFiles, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files, _ = site
    code, out, _ = compare(
        capsys,
        files.rules,
        files.rules,
        files.recording,
        "--fail-on-new-miss",
        "--fail-on-more-reactions",
        "0",
    )
    assert code == 0
    assert "pages only OLD sends: none" in out
    assert "pages only NEW sends: none" in out
    assert " -> " not in "\n".join(section(out, "reactions per night"))


def test_truth_gives_recall_and_the_new_miss(
    site: tuple[SiteFiles, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files, new = site
    code, out, _ = compare(capsys, files.rules, new, files.recording, "--truth", files.truth)
    assert code == 0
    truth = json.loads(files.truth.read_text(encoding="utf-8"))
    care = [i for i in truth["incidents"] if i["audience"] == "care"]
    lost = [i for i in care if i["room"] == ROOM and i["kind"] == "bed_exit"]
    assert lost
    old_row = next(line for line in out.splitlines() if line.startswith("  OLD "))
    new_row = next(line for line in out.splitlines() if line.startswith("  NEW "))
    assert f"{len(care)}/{len(care)}" in old_row
    assert f"{len(care) - len(lost)}/{len(care)}" in new_row
    assert out.count("incidents NEW misses that OLD caught") == 1
    misses = out.split(f"incidents NEW misses that OLD caught: {len(lost)}\n")[1].splitlines()
    listed = [row for row in misses[: len(lost)] if f"room {ROOM}" in row and "bed_exit" in row]
    assert len(listed) == len(lost)
    assert "incidents NEW catches that OLD missed: none" in out
    assert "incidents both miss: none" in out
    # the candidate against itself: the same misses on both sides, listed as such
    code, out, _ = compare(capsys, new, new, files.recording, "--truth", files.truth)
    assert code == 0
    assert "incidents NEW misses that OLD caught: none" in out
    assert f"incidents both miss: {len(lost)}\n" in out


def test_exit_codes_for_ci(
    site: tuple[SiteFiles, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files, new = site
    code, _, err = compare(capsys, files.rules, new, files.recording, "--fail-on-new-miss")
    assert code == 1
    assert "FAILED: NEW misses" in err
    assert "reactions OLD sends" in err
    code, _, err = compare(
        capsys, files.rules, new, files.recording, "--truth", files.truth, "--fail-on-new-miss"
    )
    assert code == 1
    assert "incidents OLD caught" in err
    # the other way round NEW sends more reactions (a few percent) and misses nothing
    code, out, err = compare(
        capsys,
        new,
        files.rules,
        files.recording,
        "--fail-on-new-miss",
        "--fail-on-more-reactions",
        "1",
    )
    assert code == 1
    assert "FAILED: NEW sends" in err
    assert "misses" not in err
    more = float(re.search(r"\(\+([0-9.]+)%\)", out).group(1))  # type: ignore[union-attr]
    assert 1 < more < 20
    code, _, err = compare(
        capsys, new, files.rules, files.recording, "--fail-on-more-reactions", str(more + 0.1)
    )
    assert code == 0, err


def test_page_files_give_the_same_report(
    site: tuple[SiteFiles, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--pages with the audit files of two full replays reports what the replays do."""
    files, new = site
    _, replayed, _ = compare(capsys, files.rules, new, files.recording)
    paths = {}
    for name, rules in (("live", files.rules), ("shadow", new)):
        paths[name] = (tmp_path / f"{name}.pages.jsonl", tmp_path / f"{name}.audit.jsonl")
        replay(files.recording, load_policy(rules), paths[name][0], audit_path=paths[name][1])
    code, out, _ = compare(
        capsys,
        "--pages",
        paths["live"][0],
        paths["shadow"][0],
        "--audit",
        paths["live"][1],
        paths["shadow"][1],
        "--rules",
        files.rules,
    )
    assert code == 0
    assert out.splitlines()[2:] == replayed.splitlines()[2:]
    # without the audit files the same pages, no reasons
    code, out, _ = compare(capsys, "--pages", paths["live"][0], paths["shadow"][0])
    assert code == 0
    assert GRACE_REASON not in out
    assert "(no audit)" in out
    assert section(out, "pages only OLD sends")


def test_parquet_gives_what_jsonl_gives(
    site: tuple[SiteFiles, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sensorhub.commands.convert import convert  # noqa: PLC0415 (pyarrow only here)

    files, new = site
    parquet = tmp_path / "s.parquet"
    convert(files.recording, parquet, deadletter_path=tmp_path / "dead.jsonl")
    _, from_jsonl, _ = compare(capsys, files.rules, new, files.recording)
    code, from_parquet, _ = compare(capsys, files.rules, new, parquet)
    assert code == 0
    assert from_parquet == from_jsonl


def test_png_is_written(
    site: tuple[SiteFiles, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files, new = site
    png = tmp_path / "compare.png"
    code, _, _ = compare(
        capsys, files.rules, new, files.recording, "--truth", files.truth, "--png", png
    )
    assert code == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 1000
    assert height > 400


def test_a_rule_file_with_a_mistake_is_named_at_its_line(
    site: tuple[SiteFiles, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files, _ = site
    bad = tmp_path / "bad.yaml"
    lines = files.rules.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines, 1) if f'"{ROOM}"' in line)
    lines[number - 1] = f'      "{ROOM}": {{resident: {{fall_risk: very}}}}'
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = compare(capsys, files.rules, bad, files.recording)
    assert code == 2
    assert out == ""
    assert f"{bad}:{number}:" in err
    assert "fall_risk" in err


@pytest.mark.parametrize("what", ["missing", "corrupt gzip", "not parquet"])
def test_an_unreadable_recording_is_said(
    what: str, site: tuple[SiteFiles, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files, new = site
    if what == "missing":
        recording = tmp_path / "none.jsonl"
    elif what == "corrupt gzip":
        recording = tmp_path / "cut.jsonl.gz"
        recording.write_bytes(files.recording.read_bytes()[:5000])
    else:
        recording = tmp_path / "text.parquet"
        recording.write_text("not parquet\n", encoding="utf-8")
    code, out, err = compare(capsys, files.rules, new, recording)
    assert code == 2
    assert out == ""
    assert err.startswith(f"sensorhub rules compare: {recording}")


def test_bad_page_files_and_arguments_are_said(
    site: tuple[SiteFiles, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files, new = site
    pages = tmp_path / "pages.jsonl"
    pages.write_text('{"page_id": "x"}\n', encoding="utf-8")
    code, _, err = compare(capsys, "--pages", pages, pages)
    assert code == 2
    assert f"{pages}:1: not a page" in err
    audit = tmp_path / "audit.jsonl"
    audit.write_text("{}\nnot json\n", encoding="utf-8")
    good = tmp_path / "good.jsonl"
    good.write_text("", encoding="utf-8")
    code, _, err = compare(capsys, "--pages", good, good, "--audit", audit, audit)
    assert code == 2
    assert f"{audit}:2: not a JSON object" in err
    code, _, err = compare(capsys, files.rules, new)
    assert code == 2
    assert "at least one recording" in err
    missing = tmp_path / "missing.yaml"
    code, _, err = compare(capsys, missing, new, files.recording)
    assert code == 2
    assert str(missing) in err
    code, _, err = compare(capsys, files.rules, new, files.recording, "--truth", missing)
    assert code == 2
    assert f"{missing}: no such file" in err
    code, _, err = compare(capsys, files.rules, new, files.recording, "--pages", good, good)
    assert code == 2
    assert "not both" in err


def test_a_gzip_recording_cut_short_says_so(
    site: tuple[SiteFiles, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files, new = site
    recording = tmp_path / "short.jsonl.gz"
    with gzip.open(files.recording) as whole:
        recording.write_bytes(gzip.compress(whole.read(20_000))[:-10])
    code, _, err = compare(capsys, files.rules, new, recording)
    assert code == 2
    assert "cannot be read" in err


def test_replay_audits_only_the_rooms_asked_for(
    site: tuple[SiteFiles, Path], tmp_path: Path
) -> None:
    """``audit_rooms`` (what compare's second replay uses): the same pages, and of the
    classifier's audit records those of the room asked for only, the same as in a full
    audit."""
    files, _ = site
    policy = load_policy(files.rules)
    full, some = tmp_path / "full", tmp_path / "some"
    for folder, rooms in ((full, None), (some, {("zonnehof", ROOM)})):
        folder.mkdir()
        replay(
            files.recording,
            policy,
            folder / "pages.jsonl",
            audit_path=folder / "audit.jsonl",
            audit_rooms=rooms,
        )
    assert (some / "pages.jsonl").read_bytes() == (full / "pages.jsonl").read_bytes()

    def classified(folder: Path, room: str | None) -> list[str]:
        lines = (folder / "audit.jsonl").read_text(encoding="utf-8").splitlines()
        kept = []
        for line in lines:
            entry = json.loads(line)
            place = entry.get("event") or entry
            if (
                "decision" in entry
                and entry["decision"] not in ROUTING
                and (room is None or place.get("room") == room)
            ):
                kept.append(line)
        return kept

    assert classified(some, None) == classified(full, ROOM)
    assert len(classified(full, None)) > 5 * len(classified(full, ROOM)) > 0


#: The router's decisions (its audit records are all written either way)
ROUTING = {"routed", "escalated", "held", "released", "acknowledged", "resolved", "forgotten"}


def test_several_recordings_are_replayed_one_after_the_other(
    site: tuple[SiteFiles, Path], old_pages: list[Page], capsys: pytest.CaptureFixture[str]
) -> None:
    """The same recording twice (each replayed on its own): every figure twice over."""
    files, new = site
    code, out, _ = compare(capsys, files.rules, new, files.recording, files.recording)
    assert code == 0
    expected = [p for p in old_pages if p.room == ROOM and p.kind == "bed_exit"]
    assert f"pages only OLD sends: {2 * len(expected)}\n" in out
    assert all(row.endswith(GRACE_REASON) for row in section(out, "pages only OLD sends"))
    total, lost = (sum(p.is_reaction for p in pages) for pages in (old_pages, expected))
    assert f"reactions OLD {2 * total}, NEW {2 * (total - lost)} " in out


def test_only_a_recording_with_differences_is_replayed_again_for_the_audit(
    site: tuple[SiteFiles, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files, new = site
    evening = tmp_path / "evening.jsonl"  # the first events of the first night: no bed exits
    with gzip.open(files.recording, "rt", encoding="utf-8") as lines:
        evening.write_text("".join(islice(lines, 500)), encoding="utf-8")
    code = main(
        ["rules", "compare", str(files.rules), str(new), str(evening), str(files.recording)]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert "pages only OLD sends: 0" not in out
    replays = [line for line in err.splitlines() if line.startswith("replaying ")]
    assert replays == [
        f"replaying {evening} through OLD ...",
        f"replaying {evening} through NEW ...",
        f"replaying {files.recording} through OLD ...",
        f"replaying {files.recording} through NEW ...",
        f"replaying {files.recording} through NEW, the audit of room {ROOM} of zonnehof ...",
    ]
