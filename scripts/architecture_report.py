"""The package's architecture in numbers: files per family, imports from generic code into a family, imports
inside functions, package-level import cycles, the ten longest functions and the places that write results.json.

    python scripts/architecture_report.py [--root PATH] [--json | --mermaid]

``--root`` measures another checkout (default: this one); ``--json`` prints the same as JSON (the before/after
tables), ``--mermaid`` the package dependency graph as a Mermaid ``graph LR``. The analysis is
``hubtools/architecture.py`` (standard library only: the measured tree is parsed, never imported).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hubtools.architecture import Report, mermaid  # noqa: E402  (this checkout's analysis, whatever --root is)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to measure (default: %(default)s)")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print the report as JSON")
    shown.add_argument("--mermaid", action="store_true", help="print the package graph as Mermaid")
    args = parser.parse_args(argv)
    if not (args.root / "hubtools" / "__init__.py").is_file():
        parser.error(f"{args.root} holds no hubtools package")
    if args.mermaid:
        print(mermaid(args.root))
    elif args.json:
        print(json.dumps(Report.of(args.root).as_dict(), indent=2))
    else:
        print(Report.of(args.root).text())


if __name__ == "__main__":
    main()
