#!/usr/bin/env bash
# Checks send --from --pace original: a recording of [events] events spread over [span] is
# replayed to a receiver that notes each arrival; prints the replayed span (limit ±2%) and
# how far each gap is from the recorded one (limit 5ms). Exit 1 when outside the limits.
# Usage: scripts/bench/pace.sh [events] [span]
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/cectl" .
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/pacebench" ./scripts/bench/pace
"$tmp/pacebench" -cectl "$tmp/cectl" -events "${1:-1000}" -span "${2:-10s}"
