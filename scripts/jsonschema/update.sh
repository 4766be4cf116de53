#!/usr/bin/env bash
# Re-creates internal/jsonschema from the upstream release pinned in lib.sh: its package files,
# patch.diff applied, its import paths rewritten to this module's, and NOTICE.md. Given a
# directory, writes the result there instead (check.sh compares that with the committed copy).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
out=${1:-$repo/internal/jsonschema}

src=$(upstream_dir)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
copy_package "$src" "$work/pkg"
# No fuzz: a patch that no longer applies exactly is an error, not a guess.
patch -d "$work/pkg" -p1 --fuzz=0 --forward --no-backup-if-mismatch --quiet <"$here/patch.diff"
rewrite_imports "$COPY_PATH" to "$work/pkg"
cp "$here/NOTICE.md" "$work/pkg/NOTICE.md"

rm -rf "$out"
mkdir -p "$(dirname "$out")"
cp -R "$work/pkg" "$out"
