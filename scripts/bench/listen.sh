#!/usr/bin/env bash
# Benchmarks cectl listen (-o json, and --record -q) against a bare net/http receiver under the
# same load of concurrent keep-alive binary-mode POSTs, measured in the same run; prints
# events/s ratios, peak RSS and the record file check.
# Usage: scripts/bench/listen.sh [duration per run, e.g. 3s] [connections] [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -trimpath -ldflags '-s -w' -o "$tmp/cectl" .
go build -o "$tmp/listenbench" ./scripts/bench/listen
"$tmp/listenbench" -cectl "$tmp/cectl" -duration "${1:-3s}" -conns "${2:-64}" -rounds "${3:-2}"
