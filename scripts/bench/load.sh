#!/usr/bin/env bash
# Benchmarks cectl send as a load generator, in one run: throughput at concurrency 16 against
# a minimal net/http client and vegeta, then the pacing of --rate.
# Usage: scripts/bench/load.sh [events] [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -trimpath -ldflags '-s -w' -o "$tmp/cectl" .
(cd scripts/bench/load && go build -o "$tmp/loadbench" .)
"$tmp/loadbench" -cectl "$tmp/cectl" -events "${1:-20000}" -rounds "${2:-3}"
