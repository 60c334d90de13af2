#!/usr/bin/env bash
# I3: I2 with the blend masks placed by 5 points again (--no-mesh-masks), to tell whether the mesh masks
# are what cost I2 its face swaps.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec scripts/training/v3/run_I2.sh --no-mesh-masks --out runs/I3_s${SEED:-0} "$@"
