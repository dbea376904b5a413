#!/usr/bin/env bash
# Make the separate Python environment of the Cellpose 3 peer (benchmarks/peers/cellpose_train.py).
#
#   benchmarks/peers/make_cellpose_venv.sh [VENV_DIR]        default: .venv-cellpose at the repository root
#
# Cellpose 3 pins numpy < 2.1 (and its own torch/opencv needs), so it cannot share the project's venv;
# benchmarks/train_real.py runs it in a subprocess of this one (--cellpose-python VENV_DIR/bin/python).
# Environment: PYTHON (the interpreter to make the venv with, default python3); TORCH_INDEX_URL (optional,
# e.g. https://download.pytorch.org/whl/cpu to install a CPU-only torch first instead of PyPI's CUDA build).
# Nothing is downloaded at run time: the peer trains from scratch and never fetches pretrained weights.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${1:-$root/.venv-cellpose}"
python="${PYTHON:-python3}"

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import cellpose" 2>/dev/null; then
    echo "$venv already has Cellpose: $("$venv/bin/python" -c 'from cellpose import version; print(version)')"
    exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --upgrade pip
if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "$venv/bin/python" -m pip install torch --index-url "$TORCH_INDEX_URL"
fi
"$venv/bin/python" -m pip install "cellpose<4" tifffile
"$venv/bin/python" -c "import cellpose, numpy, torch; from cellpose import version; \
print(f'Cellpose {version}, numpy {numpy.__version__}, torch {torch.__version__} in $venv')"
