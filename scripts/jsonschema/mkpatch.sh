#!/usr/bin/env bash
# Writes patch.diff from the committed internal/jsonschema: what it changes in the pinned
# upstream release, beyond the import paths (update.sh rewrites those) and NOTICE.md (copied
# from here). Run it after editing the copy on purpose, then check that update.sh reproduces it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

src=$(upstream_dir)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
copy_package "$src" "$work/a"
cp -R "$repo/internal/jsonschema" "$work/b"
rm "$work/b/NOTICE.md"
rewrite_imports "$COPY_PATH" back "$work/b"
# Directories named a and b with --no-prefix give the a/ b/ paths that patch -p1 expects.
(cd "$work" && git diff --no-index --no-prefix a b >"$here/patch.diff") || [ $? -eq 1 ]
echo "wrote $here/patch.diff ($(grep -c '^diff ' "$here/patch.diff") files)"
