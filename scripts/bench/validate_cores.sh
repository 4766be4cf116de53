#!/usr/bin/env bash
# Benchmarks cectl validate on every core against GOMAXPROCS=1 on a generated JSON-lines
# file under /tmp (default 1 GiB): best wall time of each, the speed-up (target: >= 1.7x on
# two cores) and peak RSS (target: < 64 MiB).
# Usage: scripts/bench/validate_cores.sh [MiB] [runs]
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/cectl" .
go build -o "$tmp/validatecores" ./scripts/bench/validatecores
"$tmp/validatecores" -cectl "$tmp/cectl" -dir "${TMPDIR:-/tmp}" -mib "${1:-1024}" -runs "${2:-3}"
