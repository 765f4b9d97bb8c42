"""scripts/bench_startup.py: both checkouts timed alike, the parser's refusal seen as exit status 2."""

from __future__ import annotations

import re

import pytest
from recipe_runs import ROOT, load_module


def test_the_table_times_each_command_in_both_checkouts(capsys):
    bench = load_module("scripts/bench_startup.py")
    assert bench.main(["--baseline", str(ROOT), "--repeat", "1"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(bench.commands(None))
    statuses = [row.split("|")[2].strip() for row in rows]
    assert statuses == ["0", "2", "0", "0"]  # the same checkout twice answers alike; the wrong --variant is refused
    for row in rows:
        assert re.search(r"\| \d+\.\d\d s \(\d+\.\d\d\) \| \d+\.\d\d s \(\d+\.\d\d\) \| \d+\.\d\dx \|$", row), row


def test_a_missing_checkout_is_one_line(tmp_path, capsys):
    bench = load_module("scripts/bench_startup.py")
    with pytest.raises(SystemExit) as exited:
        bench.main(["--baseline", str(tmp_path)])
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"--baseline: {tmp_path}/hubtools/cli.py not found\n"
