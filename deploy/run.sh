#!/usr/bin/env bash
# README command 1: install, build, and run vmd in the foreground with its
# defaults (state in /var/lib/vmd, API on unix:/run/vmd/vmd.sock when root;
# see `build/bin/vmd --help`). Extra arguments go to vmd.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/build.sh
exec build/bin/vmd "$@"
