"""multinerd: SpanMarker on the English part of MultiNERD, System A (all types) or B (5 types), with ONNX.

    accelerate launch recipes/multinerd.py --system A               # Babelscape/multinerd, every English type
    accelerate launch recipes/multinerd.py --system B               # PER, ORG, LOC, DIS, ANIM; others -> O
    accelerate launch recipes/multinerd.py --system A,B --output-dir runs/multinerd   # DIR/A, DIR/B, comparison
    accelerate launch recipes/multinerd.py --system B --preset tiny # offline: generated data, tiny encoder
"""

import logging
from pathlib import Path

from accelerate import PartialState

from hubtools.recipe import config_from_args, recipe_parser
from hubtools.run import write_comparison
from hubtools.spanmarker.recipe import run_spanmarker

CONFIG = Path(__file__).parent / "configs" / "multinerd.yaml"
SYSTEMS = {
    "A": [],
    "B": ["data.types=[PER, ORG, LOC, DIS, ANIM]"],
}


def system_output_dir(output_dir: str, system: str, several: bool, explicit: bool) -> str:
    """Where one system's run goes: ``--output-dir`` as given for one system, else ``runs/multinerd-A``;
    with several systems ``OUTPUT_DIR/A``, ``OUTPUT_DIR/B`` (and ``OUTPUT_DIR/comparison.json``)."""
    if several:
        return str(Path(output_dir) / system)
    return output_dir if explicit else f"{output_dir}-{system}"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = recipe_parser(__doc__.splitlines()[0])
    parser.add_argument("--system", default="A", help="A, B, or A,B for both side by side (comparison.json)")
    args = parser.parse_args()
    systems = args.system.split(",")
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        parser.error(f"--system: unknown {unknown}; choose from {sorted(SYSTEMS)}")
    runs = {}
    for system in systems:
        cfg = config_from_args(args, CONFIG, [f"system={system}", *SYSTEMS[system]])
        cfg.output_dir = system_output_dir(cfg.output_dir, system, len(systems) > 1, bool(args.output_dir))
        runs[system] = run_spanmarker(cfg)
    if PartialState().is_main_process:
        if len(runs) > 1:
            write_comparison(Path(runs[systems[0]]).parent / "comparison.json", runs)
        for out in runs.values():
            print(f"run folder: {out}")


if __name__ == "__main__":
    main()
