#!/usr/bin/env bash
# Checks .goreleaser.yaml with the pinned GoReleaser, and that completions and man pages build.
set -euo pipefail
cd "$(dirname "$0")/.."
GORELEASER=${GORELEASER:-go run github.com/goreleaser/goreleaser/v2@v2.15.1}
$GORELEASER check
./scripts/completions.sh
./scripts/manpages.sh
ls completions manpages
