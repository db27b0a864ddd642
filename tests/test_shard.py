"""Sharding without an engine: `grade --shard K/N` and `merge`, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quinebox.errors import UsageError
from quinebox.grade import merge_files, parse_shard, shard_of
from tests.test_grade import ROWS


def quinebox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "quinebox", *args], capture_output=True, text=True, timeout=300)


def grades(path: Path) -> dict[str, dict[str, Any]]:
    return {row["id"]: row["quinebox"] for row in map(json.loads, path.read_text().splitlines())}


@given(st.lists(st.text(), unique=True), st.integers(min_value=1, max_value=64))
def test_every_id_falls_in_exactly_one_shard(keys: list[str], n: int) -> None:
    shards = [{key for key in keys if shard_of(key, n) == k} for k in range(n)]
    assert sum(len(shard) for shard in shards) == len(keys)
    assert set().union(*shards) == set(keys)


def test_the_shard_of_an_id_never_changes() -> None:
    # Fixed values: a split made on one machine must match the same split on another, forever.
    assert [shard_of(key, 7) for key in ("a", "row-1", "fenced", "")] == [4, 5, 3, 1]
    assert shard_of("fenced", 1 << 30) == 301071500


@pytest.mark.parametrize("text", ["3", "1/1", "-1/2", "a/b", "2/1", "0/0", "1/2/3"])
def test_bad_shard_specs_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_shard(text)


def test_merge_prefers_final_grades_and_refuses_overlapping_splits(tmp_path: Path) -> None:
    def row(key: str, verdict: str) -> str:
        failed = "sequence" if verdict == "fail" else None
        return json.dumps({"id": key, "quinebox": {"id": key, "verdict": verdict, "failed_check": failed}}) + "\n"

    a, b, out = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "all.jsonl"
    a.write_text(row("x", "error") + row("y", "fail") + row("x", "pass") + '{"cut sho')
    b.write_text(row("z", "error") + row("w", "pass"))
    summary = merge_files([a, b], out)
    assert {k: g["verdict"] for k, g in grades(out).items()} == {"x": "pass", "y": "fail", "z": "error", "w": "pass"}
    assert (summary.graded, summary.verdicts["error"], summary.failed_checks["sequence"]) == (4, 1, 1)
    b.write_text(row("x", "fail"))
    with pytest.raises(UsageError, match="both"):
        merge_files([a, b], out)
    with pytest.raises(UsageError, match="also the output"):
        merge_files([a, out], out)


@pytest.mark.needs_bwrap
def test_merge_refuses_shards_graded_with_other_settings(tmp_path: Path) -> None:
    def row(key: str, generations: int) -> str:
        settings = {"generations": generations, "sequence": "fibonacci", "sandbox_used": None}
        return json.dumps({"id": key, "quinebox": {"id": key, "verdict": "pass", "settings": settings}}) + "\n"

    a, b, out = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "all.jsonl"
    a.write_text(row("x", 20))
    b.write_text(row("y", 20))
    assert merge_files([a, b], out).graded == 2
    b.write_text(row("y", 50))
    with pytest.raises(UsageError, match=r"other settings than .*a\.jsonl \(generations: 50 -> 20\)"):
        merge_files([a, b], out)


def test_three_shards_merge_to_the_unsharded_grades(tmp_path: Path) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    common = ["--sandbox", "bwrap", "--generations", "6", "-q"]
    whole = quinebox("grade", str(samples), "--out", str(tmp_path / "whole.jsonl"), *common)
    assert whole.returncode == 0, whole.stderr
    shards = [tmp_path / f"shard-{k}.jsonl" for k in range(3)]
    for k, shard in enumerate(shards):
        done = quinebox("grade", str(samples), "--out", str(shard), "--shard", f"{k}/3", *common)
        assert done.returncode == 0, done.stderr
        assert all(shard_of(key, 3) == k for key in grades(shard))
    again = quinebox("grade", str(samples), "--out", str(shards[1]), "--shard", "1/3", "--sandbox", "bwrap", "-n", "6")
    assert again.returncode == 0 and "graded 0 rows" in again.stderr  # each shard resumes on its own

    merged = quinebox("merge", *map(str, shards), "--out", str(tmp_path / "all.jsonl"), "--json")
    assert merged.returncode == 0, merged.stderr
    want = {key: (g["verdict"], g["failed_check"]) for key, g in grades(tmp_path / "whole.jsonl").items()}
    got = {key: (g["verdict"], g["failed_check"]) for key, g in grades(tmp_path / "all.jsonl").items()}
    assert got == want
    summary = json.loads(merged.stdout)
    assert summary["rows"] == len(ROWS) and summary["verdicts"]["pass"] == 4
    assert f"{len(ROWS)} rows; pass 4, fail 3" in merged.stderr
    bad = quinebox("grade", str(samples), "--out", str(tmp_path / "x.jsonl"), "--shard", "3/3")
    assert bad.returncode == 2 and "K/N" in bad.stderr
