#!/usr/bin/env bash
# Benchmarks cectl send against curl (one event, wall time) and against a plain net/http
# client (--from throughput, best of [rounds], taking turns), measured in the same run.
# Usage: scripts/bench/send.sh [runs] [events] [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Built as the release is (.goreleaser.yaml): static, trimmed, stripped.
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/cectl" .
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/sendbench" ./scripts/bench/send
"$tmp/sendbench" -cectl "$tmp/cectl" -runs "${1:-100}" -events "${2:-10000}" -rounds "${3:-5}"
