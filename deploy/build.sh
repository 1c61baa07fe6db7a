#!/usr/bin/env bash
# Installs what is missing, then configures and builds everything into
# build/ (binaries in build/bin). Incremental: a second run only rebuilds
# what changed. A Release build (-O3): what is installed and what the tests
# run against; -DCMAKE_BUILD_TYPE=Debug in a build dir of your own for a
# debugger.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
# Two cores and gRPC headers: more jobs only thrash.
cmake --build build -j "${VMD_BUILD_JOBS:-2}"
