#!/usr/bin/env bash
# Benchmarks cectl listen (-o json >/dev/null, and --record FILE -q) against a bare net/http
# handler that reads the body and answers 202, measured in the same run: wrk (pinned to one
# core with taskset) posts binary-mode events with unique ids over 32 keep-alive connections
# to each receiver (pinned to the other core) for 5 s, rounds alternating. Prints events/s,
# the ratio to the baseline, p99 latency and peak RSS, then checks that no acknowledged event
# is missing from stdout or the record after SIGKILL mid-load (3 times each).
# Needs wrk and taskset (Debian: apt-get install wrk util-linux) and two cores.
# Usage: scripts/bench/listen.sh [duration per run, e.g. 5s] [connections] [rounds] [kill checks]
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in wrk taskset; do
	command -v "$tool" >/dev/null || { echo "listen.sh needs $tool" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Built as the release is (.goreleaser.yaml): static, trimmed, stripped.
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/cectl" .
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/listenbench" ./scripts/bench/listen
# The driver runs on the load core too: the page that follows the web view (a client, as
# wrk is) must not take the receiver's core.
taskset -c 1 "$tmp/listenbench" -cectl "$tmp/cectl" -wrk "$(command -v wrk)" -duration "${1:-5s}" -conns "${2:-32}" \
	-rounds "${3:-3}" -repeats "${4:-3}"
