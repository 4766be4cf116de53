#!/usr/bin/env bash
# Benchmarks cectl validate in one run: throughput on a generated 100,000-event JSON-lines
# file against json.Unmarshal into sdk-go's event.Event + Validate() and against
# santhosh-tekuri/jsonschema/v6 with the official CloudEvents 1.0 schema (targets: 3x and 5x),
# then peak RSS on a 1 GiB JSON-lines file (target: under 32 MiB).
# Usage: scripts/bench/validate.sh [events] [runs] [big-MiB]
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -trimpath -ldflags '-s -w' -o "$tmp/cectl" .
go build -o "$tmp/validatebench" ./scripts/bench/validate
"$tmp/validatebench" -cectl "$tmp/cectl" -dir "$tmp" -events "${1:-100000}" -runs "${2:-3}" -big "${3:-1024}"
