#!/usr/bin/env bash
# Writes shell completion scripts for cectl to completions/ (used by the release build).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf completions
mkdir -p completions
for sh in bash zsh fish powershell; do
  go run . completion "$sh" > "completions/cectl.$sh"
done
