"""The writer of results folders that are not training curves: atomic files, common provenance, the producer's."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from rrl.result_folder import COMMON_FIELDS, csv_file, library_versions, write_result_folder


def test_writes_files_and_meta_with_common_and_producer_fields(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    out = tmp_path / "result"
    out.mkdir()
    (out / "frames.png").write_bytes(b"an earlier file")  # not named: left as it is
    fig = Figure(figsize=(2, 2))
    fig.add_subplot(1, 1, 1).plot([0, 1], [1, 0])
    rows = [{"a": 1, "b": 2, "extra": 3}, {"a": 4, "b": 5}]
    folder = write_result_folder(
        out, title="A result", command="rrl experiment x --out DIR", note="a note", table="| a |\n| --- |",
        files={"rows.csv": csv_file(rows, ("a", "b")), "plot.png": fig, "raw.bin": b"\x00\x01", "notes.txt": "hi"},
        extra_meta={"episodes": [75], "runs": ["r_s0"]},
    )  # fmt: skip
    assert folder == out
    assert sorted(p.name for p in out.iterdir()) == ["frames.png", "meta.json", "notes.txt", "plot.png", "raw.bin",
                                                    "rows.csv"]  # fmt: skip
    assert (out / "rows.csv").read_text().splitlines() == ["a,b", "1,2", "4,5"]
    assert (out / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (out / "raw.bin").read_bytes() == b"\x00\x01"
    assert (out / "frames.png").read_bytes() == b"an earlier file"
    meta = json.loads((out / "meta.json").read_text())
    assert list(meta)[:4] == ["title", "command", "commit", "date"]
    assert meta["title"] == "A result" and meta["command"] == "rrl experiment x --out DIR" and meta["commit"]
    assert dt.datetime.fromisoformat(meta["date"]).utcoffset() == dt.timedelta(0)  # UTC
    assert meta["note"] == "a note" and meta["table"].startswith("| a |")
    assert meta["versions"]["python"] and meta["versions"]["numpy"] and "onnxruntime" in meta["versions"]
    assert meta["episodes"] == [75] and meta["runs"] == ["r_s0"]
    # no note or table: no empty keys; a given date is kept
    write_result_folder(out, title="t", command="c", date="2026-01-02T03:04:05+00:00")
    meta = json.loads((out / "meta.json").read_text())
    assert "note" not in meta and "table" not in meta and meta["date"] == "2026-01-02T03:04:05+00:00"
    assert (out / "rows.csv").is_file()  # still there: the writer removes nothing


def test_a_failing_file_leaves_the_previous_folder_and_no_temporary_file(tmp_path: Path) -> None:
    out = write_result_folder(tmp_path / "r", title="first", command="c", files={"data.csv": "a\n1\n"})
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(f) -> None:
        f.write("a\n")
        raise RuntimeError("crashed half-way")

    with pytest.raises(RuntimeError, match="half-way"):
        write_result_folder(out, title="second", command="c", files={"data.csv": broken})
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # old CSV, old meta.json, nothing else


def test_refuses_common_fields_in_extra_meta_and_paths_outside_the_folder(tmp_path: Path) -> None:
    for field in ("commit", "versions"):
        assert field in COMMON_FIELDS
        with pytest.raises(ValueError, match=field):
            write_result_folder(tmp_path, title="t", command="c", extra_meta={field: "x"})
    for name in ("../up.csv", "meta.json"):
        with pytest.raises(ValueError, match="plain file name"):
            write_result_folder(tmp_path, title="t", command="c", files={name: "x"})
    assert not list(tmp_path.iterdir())


def test_library_versions_names_missing_packages() -> None:
    versions = library_versions(("numpy", "no-such-package-here"))
    assert versions["python"] and versions["numpy"] and versions["no-such-package-here"] is None


def test_a_folder_made_before_the_naming_scheme_is_adopted(tmp_path: Path) -> None:
    from rrl.result_folder import adopt_renamed

    write_result_folder(tmp_path / "rewards_cpu_door", title="rewards", command="rrl experiment rewards",
                        files={"a.csv": "x\n1\n"})  # fmt: skip
    assert adopt_renamed(tmp_path, "rewards_cpu_door", "rewards_door_cpu")
    assert not (tmp_path / "rewards_cpu_door").exists() and (tmp_path / "rewards_door_cpu" / "a.csv").is_file()
    meta = json.loads((tmp_path / "rewards_door_cpu" / "meta.json").read_text())
    assert meta["renamed_from"] == "rewards_cpu_door" and meta["title"] == "rewards"
    (tmp_path / "rewards_cpu_door").mkdir()  # both names: nothing is touched
    assert not adopt_renamed(tmp_path, "rewards_cpu_door", "rewards_door_cpu")
    assert not adopt_renamed(tmp_path, "absent", "rewards_door_cpu")
