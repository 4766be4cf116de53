#!/usr/bin/env bash
# Runs upstream's own tests (the *_test.go files and testdata of the pinned release) against the
# committed internal/jsonschema, in a throwaway module that has this module's path, so that the
# tests may import the internal package, and this module's golang.org/x/text.
#
# The release's zip does not contain testdata/JSON-Schema-Test-Suite (a git submodule upstream),
# and upstream's TestSuites skips a suite directory that is missing; the suite that ships in the
# zip, testdata/Extra-Test-Suite, runs, and this script fails if it is not there.
# Example_fromHTTPS is skipped: it loads a schema from the internet, which CI cannot reach.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

# Upstream's example_regexp_test.go uses regexp2, at the version upstream's go.mod names.
REGEXP2=v1.11.0
REGEXP2_SUM='github.com/dlclark/regexp2 v1.11.0 h1:G/nrcoOa7ZXlpoa/91N3X7mM3r8eIlMBBJZvsz/mxKI=
github.com/dlclark/regexp2 v1.11.0/go.mod h1:DHkYz0B9wPfa6wondMfaivmHpzrQ3v9q8cnmRbL6yW8='

src=$(upstream_dir)
if [ ! -d "$src/testdata/Extra-Test-Suite/tests" ]; then
	echo "$UPSTREAM@$VERSION: no testdata/Extra-Test-Suite in the module" >&2
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pkg=$work/internal/jsonschema
mkdir -p "$work/internal"
cp -R "$repo/internal/jsonschema" "$pkg"
cp "$src"/*_test.go "$pkg/"
cp -R "$src/testdata" "$pkg/"
chmod -R u+w "$pkg"
rewrite_imports "$COPY_PATH" to "$pkg"

goversion=$(cd "$repo" && go mod edit -json | sed -n 's/^[[:space:]]*"Go": "\(.*\)",\{0,1\}$/\1/p')
textversion=$(cd "$repo" && go list -m -f '{{.Version}}' golang.org/x/text)
cat >"$work/go.mod" <<MOD
module $(cd "$repo" && go list -m)

go $goversion

require (
	github.com/dlclark/regexp2 $REGEXP2
	golang.org/x/text $textversion
)
MOD
{ cat "$repo/go.sum"; printf '%s\n' "$REGEXP2_SUM"; } >"$work/go.sum"

echo "upstream tests of $UPSTREAM@$VERSION against internal/jsonschema (JSON-Schema-Test-Suite is not in the module zip; Extra-Test-Suite runs)"
(cd "$work" && go test -count=1 -skip '^Example_fromHTTPS$' "$@" ./internal/jsonschema/...)
