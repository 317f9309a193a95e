#!/usr/bin/env bash
# Run napari-gmm on its bundled sample: opens napari with the sample and the GMM Segmentation
# widget when a display is available, otherwise runs the headless demo, which writes the
# results (TIFFs and an overview PNG) to ./demo-output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec .venv/bin/python -m napari_gmm "$@"
fi
echo "No display found: running the headless demo."
exec .venv/bin/napari-gmm demo "$@"
