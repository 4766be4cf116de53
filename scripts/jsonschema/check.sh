#!/usr/bin/env bash
# Fails when the committed internal/jsonschema is not exactly what update.sh makes from the
# pinned upstream release and patch.diff.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/update.sh" "$work/jsonschema"
if ! diff -r "$work/jsonschema" "$repo/internal/jsonschema"; then
	echo "internal/jsonschema is not $UPSTREAM@$VERSION + scripts/jsonschema/patch.diff" >&2
	echo "(lines with < are what update.sh makes; run scripts/jsonschema/mkpatch.sh to keep an edit)" >&2
	exit 1
fi
echo "internal/jsonschema = $UPSTREAM@$VERSION + patch.diff ($(grep -c '^diff ' "$here/patch.diff") files)"
