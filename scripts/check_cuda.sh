#!/usr/bin/env bash
# The recipes' CUDA path in one run of under 8 minutes on a GPU machine without network:
#  1. installs the carried wheels (--wheels, default .whl/, from scripts/fetch_cuda_wheels.sh) into a temporary
#     folder first on PYTHONPATH, so the pinned stack runs over the machine's own CUDA build of torch;
#  2. trains the tiny finer preset and one epoch of MiniLM on CoNLL-2003 (--assets, default .cuda/: minilm/ and
#     conll2003/*.txt.gz), fp16 on CUDA (training.fp16=auto), each exported and verified as usual;
#  3. checks each run with scripts/check_cuda_run.py: results.json records device cuda and fp16 and a verified
#     fp32 ONNX file, and the saved model on the CPU and that ONNX file agree with the model on CUDA;
#  4. prints per run its test F1, training words/s and inference words/s on CUDA.
# Without CUDA it prints "no CUDA device: skipping CUDA parts", runs the tiny finer preset on the CPU (no
# benchmark) with the same checks (device cpu, the precision auto picks there) and exits 0. Any failed check: exit 1.
#
#   scripts/check_cuda.sh [--wheels DIR] [--assets DIR] [--work DIR]    (PYTHON: the interpreter, default python3)
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
WHEELS=$REPO/.whl
ASSETS=$REPO/.cuda
WORK=""
while [ $# -gt 0 ]; do
  case $1 in
    --wheels) WHEELS=${2:?--wheels needs a folder}; shift 2 ;;
    --assets) ASSETS=${2:?--assets needs a folder}; shift 2 ;;
    --work) WORK=${2:?--work needs a folder}; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "check_cuda.sh: error: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ ! -d "$WHEELS" ]; then echo "check_cuda.sh: error: --wheels $WHEELS is not a folder" >&2; exit 2; fi
WORK=${WORK:-$(mktemp -d -t check_cuda.XXXXXX)}
mkdir -p "$WORK" || exit 2
START=$(date +%s)
FAILED=0
cd "$REPO" || exit 2
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1

echo "check_cuda: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)," \
     "work folder $WORK"
shopt -s nullglob
wheels=("$WHEELS"/*.whl)
if [ ${#wheels[@]} -gt 0 ]; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$WORK/site" \
    "${wheels[@]}" || { echo "check_cuda: FAILED: installing the ${#wheels[@]} wheels of $WHEELS"; exit 1; }
  export PYTHONPATH=$WORK/site:$REPO
  echo "check_cuda: installed ${#wheels[@]} wheels from $WHEELS"
else
  export PYTHONPATH=$REPO
  echo "check_cuda: no wheels in $WHEELS: using the packages of $PYTHON"
fi
"$PYTHON" - <<'EOF' || { echo "check_cuda: FAILED: the stack does not import"; exit 1; }
import platform
from importlib.metadata import version

import torch

import hubtools.families.token_classification.export  # noqa: F401  (transformers, optimum, onnxruntime)
import hubtools.families.token_classification.recipe  # noqa: F401  (datasets, seqeval)

names = ("transformers", "optimum", "optimum-onnx", "datasets", "huggingface_hub", "tokenizers", "accelerate",
         "onnxruntime")
print(f"check_cuda: python {platform.python_version()}, torch {torch.__version__}, "
      + ", ".join(f"{name} {version(name)}" for name in names))
if torch.cuda.is_available():
    print(f"check_cuda: {torch.cuda.device_count()} CUDA device(s): {torch.cuda.get_device_name(0)}, "
          f"CUDA {torch.version.cuda}")
EOF

# run NAME DEVICE PRECISION RECIPE [ARGS...]: train RECIPE into WORK/NAME, then check the run folder.
run() {
  local name=$1 device=$2 precision=$3 recipe=$4 started
  shift 4
  started=$(date +%s)
  echo "check_cuda: $name: $recipe $*"
  if "$PYTHON" "recipes/$recipe.py" --output-dir "$WORK/$name" "$@" > "$WORK/$name.log" 2>&1; then
    echo "check_cuda: $name: trained and exported in $(( $(date +%s) - started )) s (log $WORK/$name.log)"
    "$PYTHON" scripts/check_cuda_run.py "$WORK/$name" --device "$device" --precision "$precision" || FAILED=1
  else
    tail -n 20 "$WORK/$name.log"
    echo "check_cuda: $name: FAILED: the recipe exited with an error (log $WORK/$name.log)"
    FAILED=1
  fi
}

if "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  run finer-tiny cuda fp16 finer --preset tiny
  if [ -f "$ASSETS/minilm/model.safetensors" ] && [ -f "$ASSETS/conll2003/train.txt.gz" ]; then
    mkdir -p "$WORK/conll2003"
    for split in train valid test; do gzip -dc "$ASSETS/conll2003/$split.txt.gz" > "$WORK/conll2003/$split.txt"; done
    run conll-minilm cuda fp16 finer data.source="$WORK/conll2003" data.num_types=null data.split_ratios=null \
      data.drop_without_entities=false model.name_or_path="$ASSETS/minilm" training.max_tokens_per_batch=512 \
      training.learning_rate=2e-4 training.num_train_epochs=1
  else
    echo "check_cuda: conll-minilm: FAILED: $ASSETS lacks minilm/ or conll2003/ (scripts/fetch_cuda_wheels.sh --conll DIR)"
    FAILED=1
  fi
else
  echo "check_cuda: no CUDA device: skipping CUDA parts"
  run finer-cpu cpu auto finer --preset tiny export.benchmark=false
fi

elapsed=$(( $(date +%s) - START ))
if [ $elapsed -gt 480 ]; then echo "check_cuda: WARNING: $elapsed s, over the 8-minute budget of a device call"; fi
if [ $FAILED -ne 0 ]; then
  echo "check_cuda: FAILED after $elapsed s"
  exit 1
fi
echo "check_cuda: all checks passed in $elapsed s"
