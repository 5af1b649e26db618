"""``sensorhub sweep``: a grid of rule parameters replayed over recordings of a simulated site and
scored; the same table from this process, from local processes and from a Dask LocalCluster of
several worker processes, each worker loading the compiled classifier from numba's cache."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from distributed import LocalCluster
from simulators.site import simulate_site, write_site

from sensorhub.cli import main
from sensorhub.commands.convert import convert
from sensorhub.commands.replay import replay
from sensorhub.commands.sweep_work import PROCESS_START, worth_processes
from sensorhub.rules import load_policy

GRID = ("--set", "bathroom_grace=5m,20m", "--set", "acoustic_threshold=65,75")


@dataclass(frozen=True)
class Site:
    whole: Path
    #: the same events as ``whole``, split at noon between the nights: JSONL, then Parquet
    halves: tuple[Path, Path]
    truth: Path
    rules: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """6 rooms over 2 nights, with late events and malformed lines."""
    folder = tmp_path_factory.mktemp("sweep")
    run = simulate_site(6, 2, date(2026, 11, 20), 5, 0.02, 0.002)
    files = write_site(run, folder / "site.jsonl")
    noon = run.wards[1].night_bounds()[0] - 10 * 3600
    first, second = folder / "first.jsonl", folder / "second.jsonl"
    with (
        files.recording.open(encoding="utf-8") as lines,
        first.open("w", encoding="utf-8") as one,
        second.open("w", encoding="utf-8") as two,
    ):
        for line in lines:
            found = re.search(r'"ts":\s*([0-9.]+)', line)
            (one if found is None or float(found.group(1)) < noon else two).write(line)
    convert(second, folder / "second.parquet", deadletter_path=folder / "second.dead.jsonl")
    return Site(files.recording, (first, folder / "second.parquet"), files.truth, files.rules)


def sweep(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["sweep", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def sets(path: Path) -> list[dict[str, object]]:
    return list(json.loads(path.read_text(encoding="utf-8"))["sets"])


def test_a_set_scores_as_replay_and_evaluate_of_the_file_with_its_value_written_in(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What sweep reports for acoustic_threshold=75 is what replay and evaluate report for the
    rule file with that value written in; set 0 is the file as written."""
    out = tmp_path / "sweep.json"
    status, table, _ = sweep(
        capsys,
        str(site.whole),
        "--rules",
        str(site.rules),
        "--set",
        "acoustic_threshold=65,75",
        "--truth",
        str(site.truth),
        "--json",
        str(out),
        "--jobs",
        "1",
    )
    assert status == 0, table
    rows = sets(out)
    assert [row["values"] for row in rows] == [
        None,
        {"acoustic_threshold": "65"},
        {"acoustic_threshold": "75"},
    ]
    text = site.rules.read_text(encoding="utf-8")
    written = {0: text, 2: text.replace("defaults:\n", "defaults:\n  acoustic_threshold: 75\n", 1)}
    for number, rules_text in written.items():
        rules = tmp_path / f"rules-{number}.yaml"
        rules.write_text(rules_text, encoding="utf-8")
        pages = tmp_path / f"pages-{number}.jsonl"
        summary = replay(site.whole, load_policy(rules), pages)
        report = tmp_path / f"report-{number}.json"
        assert main(["evaluate", str(site.truth), str(pages), "--json", str(report)]) == 0
        evaluated = json.loads(report.read_text(encoding="utf-8"))
        row = rows[number]
        assert row["reactions"] == summary.reactions == evaluated["reactions"]
        assert row["raw_alarms"] == summary.raw_alarms
        assert row["escalations"] == summary.escalations
        assert row["recall"] == evaluated["recall"]
        assert row["missed"] == len(evaluated["missed"])
        assert row["late"] == len(evaluated["late"])
        assert row["needless"] == evaluated["needless"]["total"]
        assert row["by_kind"] == evaluated["by_kind"]
    # the louder threshold misses sustained sound the simulator scripted as actionable
    assert rows[2]["missed"] > rows[1]["missed"] == 0


def test_local_processes_and_a_dask_cluster_give_the_same_table(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same sweep of two recordings (JSONL and Parquet) in this process, in two local
    processes and on a LocalCluster of three worker processes: the same table and figures;
    every worker took the compiled classifier from numba's cache and kept it for its next
    replays."""
    common = [
        *map(str, site.halves),
        "--rules",
        str(site.rules),
        *GRID,
        "--truth",
        str(site.truth),
    ]
    results = {}
    with LocalCluster(
        n_workers=3, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        runs = {
            "here": ["--jobs", "1"],
            "processes": ["--jobs", "2"],
            "cluster": ["--scheduler", cluster.scheduler_address],
        }
        for name, where in runs.items():
            out = tmp_path / f"{name}.json"
            status, table, err = sweep(capsys, *common, *where, "--json", str(out))
            assert status == 0, err
            results[name] = (table, json.loads(out.read_text(encoding="utf-8")))
    here_table, here = results["here"]
    assert len(here["sets"]) == 5
    assert here["sets"][0]["events"] > 0
    for name in ("processes", "cluster"):
        table, document = results[name]
        assert table == here_table, name
        assert document["sets"] == here["sets"], name
        workers = document["run"]["workers"]
        assert sum(w["replays"] for w in workers.values()) == 10, name
        # this process's count holds what the tests before this one compiled, too
        others = {k: w for k, w in workers.items() if not k.endswith(f":{os.getpid()}")}
        assert others, workers
        assert all(w["compiled"] == 0 for w in others.values()), workers
    # this process ran the first replay, two others the nine after it: each process kept its
    # classifier for its next replays
    assert 2 <= len(results["processes"][1]["run"]["workers"]) <= 3
    assert "3 workers" in results["cluster"][1]["run"]["where"]


def test_the_two_halves_add_up_to_the_whole(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each recording is replayed on its own and a set's counts are their sums."""
    documents = []
    for recordings in ([site.whole], list(site.halves)):
        out = tmp_path / "sweep.json"
        args = [*map(str, recordings), "--rules", str(site.rules), "--set", "wanders=true"]
        status, _, err = sweep(capsys, *args, "--json", str(out), "--jobs", "1")
        assert status == 0, err
        documents.append(sets(out))
    whole, halves = documents
    for key in ("events", "raw_alarms", "reactions", "escalations"):
        assert [row[key] for row in whole] == [row[key] for row in halves], key


def test_without_a_truth_the_table_gives_reactions_and_the_replay_reduction(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv, png = tmp_path / "sweep.csv", tmp_path / "sweep.png"
    status, table, err = sweep(
        capsys,
        str(site.whole),
        "--rules",
        str(site.rules),
        "--set",
        "fall_risk=high",
        "--csv",
        str(csv),
        "--png",
        str(png),
        "--jobs",
        "1",
    )
    assert status == 0, err
    summary = replay(site.whole, load_policy(site.rules), tmp_path / "pages.jsonl")
    first = table.splitlines()[4].split()
    assert first[:3] == ["0", "(file)", str(summary.reactions)]
    assert first[3] == f"{summary.reduction:.1%}"
    assert first[4:] == ["-"] * 6
    assert "recall, misses and latency need --truth" in table
    header = csv.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("set,fall_risk,events,raw_alarms,reactions,reduction")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "fall_risk: the swept values replace the file's own fall_risk at" in err
    assert "sweep: 2 replays in" in err


def test_by_default_short_replays_stay_in_this_process(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --jobs, processes are started only when the first replay says that the others
    take long enough to pay for them; a few replays of two nights of six rooms do not."""
    out = tmp_path / "sweep.json"
    args = [str(site.whole), "--rules", str(site.rules), "--set", "fall_risk=low,normal,high"]
    status, _, err = sweep(capsys, *args, "--json", str(out))
    assert status == 0, err
    assert "the other 2 ran in this process too" in err
    run = json.loads(out.read_text(encoding="utf-8"))["run"]
    assert run["where"] == "this process"
    assert [w["replays"] for w in run["workers"].values()] == [4]


def test_processes_are_worth_starting_when_they_save_more_than_their_start() -> None:
    assert not worth_processes(PROCESS_START * 1.9, 2)
    assert worth_processes(PROCESS_START * 2.1, 2)
    assert worth_processes(PROCESS_START * 1.2, 8)


def test_the_png_draws_reactions_against_recall_and_latency(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "sweep.png"
    args = [str(site.whole), "--rules", str(site.rules), *GRID, "--truth", str(site.truth)]
    status, _, err = sweep(
        capsys, *args, "--png", str(png), "--kind", "absent_too_long", "--jobs", "1"
    )
    assert status == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {png}" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "bathroom_grace=5m,5h"], "--set bathroom_grace=5h: bathroom_grace must be"),
        (["--set", "sites.nowhere.wanders=true"], "the rule file has no site named 'nowhere'"),
        (
            ["--set", "wanders=true", "--set", "defaults.wanders=false"],
            "--set defaults.wanders=... sets what --set wanders=... sets: give all its values "
            "in one --set",
        ),
        (["--set", "wanders=true", "--truth", "{tmp}/none.truth.json"], "no such file"),
        (["--set", "wanders=true", "--kind", "fall"], "--kind needs --truth"),
    ],
)
def test_bad_input_is_named_before_anything_runs(
    site: Site,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    status, table, err = sweep(capsys, str(site.whole), "--rules", str(site.rules), *args)
    assert status == 2
    assert table == ""
    assert message in err
    assert "replays" not in err


def test_a_missing_recording_or_a_rule_file_with_mistakes_exits_2(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = sweep(capsys, str(tmp_path / "none.jsonl"), "--set", "wanders=true")
    assert status == 2
    assert err.strip() == f"sensorhub sweep: no such recording: {tmp_path}/none.jsonl"
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ndefaults: {bathroom_grce: 5m}\n", encoding="utf-8")
    status, _, err = sweep(capsys, str(site.whole), "--rules", str(bad), "--set", "wanders=true")
    assert status == 2
    assert f"{bad}:2: defaults.bathroom_grce: unknown key 'bathroom_grce'" in err
