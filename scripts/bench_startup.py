"""Start-up benchmark: how long the ``hubtools`` command and ``import hubtools`` take before they do any work,
for two checkouts side by side (each command alternating between them), with the ratio.

    python scripts/bench_startup.py --baseline PATH/TO/OTHER/CHECKOUT [--repeat 5] [--run RUN_DIR]

Every measurement is a fresh process of this interpreter with the checkout on ``PYTHONPATH`` (its code, this
environment's packages): ``hubtools --help``, a wrong argument (refused by the parser, exit 2), ``import hubtools``
with ``hubtools.Run``, ``hubtools data`` on generated data (a light command: the library, no model), and with
``--run`` ``hubtools check RUN_DIR`` (cards and the push plan, offline).
The table gives the exit statuses seen (one value: both checkouts answered alike), the median and the fastest of
``--repeat`` runs; the ratio is this checkout's median over the baseline's. Bad arguments: one line, exit 2.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from hubtools.run import machine_description

ROOT = Path(__file__).resolve().parents[1]


def commands(run: Path | None) -> dict[str, list[str]]:
    """The measured commands, by label: arguments to this interpreter."""
    out = {"hubtools --help": ["-m", "hubtools", "--help"],
           "hubtools predict --variant nope (refused)": ["-m", "hubtools", "predict", "R", "--variant", "nope",
                                                         "--text", "t", "--output", "o"],
           "import hubtools; hubtools.Run": ["-c", "import hubtools; hubtools.Run"],
           "hubtools data generate:conll2003 --head 1": ["-m", "hubtools", "data", "generate:conll2003", "--head", "1"]}
    if run is not None:
        out[f"hubtools check {run.name}"] = ["-m", "hubtools", "check", str(run.resolve())]
    return out


def timed(checkout: Path, args: list[str]) -> tuple[float, int]:
    """Wall seconds and exit status of one fresh process running ``args`` in ``checkout``."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=checkout, env=env, capture_output=True, check=False)
    return time.perf_counter() - start, proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout (e.g. a git worktree)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--run", type=Path, help="a run folder, for `hubtools check`")
    args = parser.parse_args(argv)
    for path, what in ((args.baseline / "hubtools" / "cli.py", "--baseline"), (args.run, "--run")):
        if path is not None and not path.exists():
            parser.exit(2, f"{what}: {path} not found\n")
    checkouts = {"baseline": args.baseline.resolve(), "this": ROOT}
    print(f"# start-up, {date.today()}, {machine_description()}, median (fastest) of {args.repeat}; baseline "
          f"{args.baseline.name}")
    print("| command | exit status | baseline | this checkout | ratio |\n|---|---|---|---|---|")
    for label, command in commands(args.run).items():
        times: dict[str, list[float]] = {name: [] for name in checkouts}
        status: set[int] = set()
        for _ in range(args.repeat):
            for name, checkout in checkouts.items():
                took, code = timed(checkout, command)
                times[name].append(took)
                status.add(code)
        median = {name: statistics.median(t) for name, t in times.items()}
        cells = [f"{median[name]:.2f} s ({min(times[name]):.2f})" for name in checkouts]
        print(f"| `{label}` | {', '.join(map(str, sorted(status)))} | {cells[0]} | {cells[1]} | "
              f"{median['this'] / median['baseline']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
