#!/usr/bin/env bash
# Create .venv with the verified stack (pyproject.toml) and nerhub installed in editable mode.
#   scripts/setup.sh          runtime dependencies
#   scripts/setup.sh --dev    plus pytest and ruff, Transformers.js in tests/js/node_modules (npm, Node >= 18) and,
#                             as root on Debian, Chromium and chromedriver for the browser tests
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

# --dev: Transformers.js for tests/test_transformers_js.py and scripts/check_browser.py, pinned by
# tests/js/package-lock.json, from the npm registry only. --ignore-scripts: onnxruntime-node's install script
# would fetch GPU binaries from outside the registry; its CPU binaries ship in the package.
if [[ "${1:-}" == "--dev" ]]; then
  if { ! command -v npm || ! command -v node; } >/dev/null && command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    apt-get install -y -qq nodejs npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
  fi
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    echo "setup.sh: --dev needs Node.js >= 18 and npm (tests/test_transformers_js.py runs Transformers.js)" >&2
    exit 1
  fi
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error --prefix tests/js
  (cd tests/js && node --input-type=module \
    -e "import { env } from '@huggingface/transformers'; console.log('transformers.js ready:', env.version)")
fi

# --dev: headless Chromium and chromedriver for tests/test_space_browser.py (and scripts/check_browser.py); without
# them those tests skip, saying why.
if [[ "${1:-}" == "--dev" ]]; then
  if { ! command -v chromium || ! command -v chromedriver; } >/dev/null && command -v apt-get >/dev/null \
      && [[ $(id -u) == 0 ]]; then
    apt-get install -y -qq chromium chromium-driver >/dev/null \
      || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }
  fi
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    echo "browser tests ready: $(chromium --version 2>/dev/null)"
  else
    echo "setup.sh: no chromium/chromedriver: the browser tests will skip (apt-get install chromium chromium-driver)" >&2
  fi
fi
