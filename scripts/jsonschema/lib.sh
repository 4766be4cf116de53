# Sourced by the scripts beside it: which upstream release internal/jsonschema is made from, and
# how to get that release's files through the Go module proxy.

UPSTREAM=github.com/santhosh-tekuri/jsonschema/v6
VERSION=v6.0.3
# The go.sum hash of that release's zip: a re-tagged or tampered release is refused.
SUM=h1:1EYB5IzjZawrrnELUi78f9fPu57HuXjmddZPjrls/28=
# Where the copy lives in this module; upstream's import paths are rewritten to it.
COPY_PATH=github.com/cectl/cectl/internal/jsonschema

# upstream_dir prints the directory of the pinned release in the module cache, downloading it
# first if needed. It runs outside this module so that go.mod and go.sum are left alone.
upstream_dir() {
	local tmp json dir sum
	tmp=$(mktemp -d)
	json=$(cd "$tmp" && go mod download -json "$UPSTREAM@$VERSION")
	rmdir "$tmp"
	dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	sum=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",\{0,1\}$/\1/p')
	if [ "$sum" != "$SUM" ]; then
		echo "$UPSTREAM@$VERSION: hash $sum, want $SUM" >&2
		return 1
	fi
	if [ ! -d "$dir" ]; then
		echo "$UPSTREAM@$VERSION: no directory in: $json" >&2
		return 1
	fi
	printf '%s\n' "$dir"
}

# copy_package copies the files of upstream's package in $1 (its Go sources without tests, the
# kind package, the meta-schemas, LICENSE and README.md) into the new directory $2, writable.
copy_package() {
	mkdir -p "$2"
	local f
	for f in "$1"/*.go; do
		case $f in *_test.go) continue ;; esac
		cp "$f" "$2/"
	done
	cp -R "$1/kind" "$1/metaschemas" "$1/LICENSE" "$1/README.md" "$2/"
	chmod -R u+w "$2"
}

# rewrite_imports replaces upstream's import path by $1 (and $1 by upstream's when $2 is
# "back") in every Go file under directory $3.
rewrite_imports() {
	local from=$UPSTREAM to=$1
	if [ "$2" = back ]; then from=$1 to=$UPSTREAM; fi
	find "$3" -name '*.go' -exec sed -i -e "s#\"$from\"#\"$to\"#g" -e "s#\"$from/#\"$to/#g" {} +
}
