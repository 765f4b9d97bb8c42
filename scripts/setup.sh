#!/usr/bin/env bash
# Create .venv with the verified stack (pyproject.toml) and nerhub installed in editable mode.
#   scripts/setup.sh          runtime dependencies
#   scripts/setup.sh --dev    plus pytest and ruff
# TORCH_SPEC overrides the torch requirement (default: the CPU build torch==2.13.0; on a GPU machine use
# e.g. TORCH_SPEC="torch==2.13.0" with PyTorch's CUDA index, or an already installed CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
extra=""
[[ "${1:-}" == "--dev" ]] && extra="[dev]"
.venv/bin/python -m pip install -q -e ".${extra}"
# accelerate launch warns about every value it had to default when it finds no configuration: give it one (single
# process, no mixed precision: the recipes choose fp16 on CUDA and bf16 on CPUs themselves), unless one exists.
accelerate_config="${HF_HOME:-$HOME/.cache/huggingface}/accelerate/default_config.yaml"
if [[ ! -f "$accelerate_config" ]]; then
  .venv/bin/accelerate config default --mixed_precision no >/dev/null
  sed -i 's/"use_cpu": true/"use_cpu": false/' "$accelerate_config"  # GPUs where present; CPU processes otherwise
  echo "wrote accelerate's default configuration: $accelerate_config"
fi
.venv/bin/python -c "import hubtools, transformers, optimum.onnxruntime, span_marker; print('nerhub ready:', transformers.__version__)"
