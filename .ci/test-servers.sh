#!/usr/bin/env bash
# Installs the object-store test servers (versitygw and SeaweedFS, both S3; fake-gcs-server, GCS) into a cache that survives CI runs,
# so a rerun takes seconds. Can be run alone; the tests find the binaries in $PGSTASH_GO_DIR/bin (PGSTASH_TEST_BIN).
#
# Environment knobs: PGSTASH_GO_DIR (cache root, default /var/cache/pgstash-go; binaries in $PGSTASH_GO_DIR/bin,
# the Go module and build caches beside them). Needs Go (1.22 or newer) and the Go module proxy.
set -euo pipefail

GO_DIR="${PGSTASH_GO_DIR:-/var/cache/pgstash-go}"
VERSITYGW_VERSION=v1.8.0
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6
FAKE_GCS_VERSION=v1.56.1

export GOBIN="$GO_DIR/bin"
export GOMODCACHE="$GO_DIR/mod"
export GOCACHE="$GO_DIR/build"
export GOFLAGS="${GOFLAGS:-} -modcacherw"
export GOTOOLCHAIN=local
mkdir -p "$GOBIN" "$GOMODCACHE" "$GOCACHE"
command -v go >/dev/null || { echo "go is not installed: the object-store test servers cannot be built" >&2; exit 1; }

# A stamp file beside each binary records the version it was built from: a version change rebuilds it.
built() { [ -x "$GOBIN/$1" ] && [ "$(cat "$GOBIN/$1.version" 2>/dev/null)" = "$2" ]; }

if built versitygw "$VERSITYGW_VERSION"; then
  echo "cached: $GOBIN/versitygw ($VERSITYGW_VERSION)"
else
  echo "building versitygw $VERSITYGW_VERSION (about 2 min cold)"
  go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  echo "$VERSITYGW_VERSION" >"$GOBIN/versitygw.version"
fi

if built weed "$SEAWEEDFS_VERSION"; then
  echo "cached: $GOBIN/weed ($SEAWEEDFS_VERSION)"
else
  # `go install` refuses the module (it has a replace directive): build inside the downloaded module instead.
  echo "building SeaweedFS $SEAWEEDFS_VERSION (about 6 min cold, 2.7 GB peak memory)"
  dir=$(go mod download -json "github.com/seaweedfs/seaweedfs@$SEAWEEDFS_VERSION" |
    sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] && [ -d "$dir" ] || { echo "go mod download gave no module directory for SeaweedFS" >&2; exit 1; }
  (cd "$dir" && go build -o "$GOBIN/weed" ./weed)
  echo "$SEAWEEDFS_VERSION" >"$GOBIN/weed.version"
fi

if built fake-gcs-server "$FAKE_GCS_VERSION"; then
  echo "cached: $GOBIN/fake-gcs-server ($FAKE_GCS_VERSION)"
else
  echo "building fake-gcs-server $FAKE_GCS_VERSION (about 4 min cold)"
  go install "github.com/fsouza/fake-gcs-server@$FAKE_GCS_VERSION"
  echo "$FAKE_GCS_VERSION" >"$GOBIN/fake-gcs-server.version"
fi

"$GOBIN/versitygw" --version 2>&1 | sed -n 1p || true
"$GOBIN/weed" version 2>&1 | sed -n 1p || true
echo "test servers in $GOBIN"
