#!/usr/bin/env bash
# Writes man pages for cectl and its commands to manpages/ (used by the release build).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf manpages
mkdir -p manpages
go run ./scripts/genman manpages
gzip -9 -n manpages/*.1
