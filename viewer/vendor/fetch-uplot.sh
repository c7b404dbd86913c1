#!/bin/sh
# Fetches uPlot, the dashboard viewer's chart library, from the npm registry into
# viewer/vendor/uplot/: the pinned version's tarball, checked against the registry's sha512
# integrity before anything is unpacked. The result is committed, so the viewer, the tests and
# CI need neither npm nor the network. To update: change VERSION and INTEGRITY (from
# `npm view uplot@<version> dist.integrity`), run this script, read the diff, commit.
set -eu

VERSION=1.6.32
INTEGRITY=sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==
TARBALL_URL="https://registry.npmjs.org/uplot/-/uplot-$VERSION.tgz"

here=$(cd "$(dirname "$0")" && pwd)
out="$here/uplot"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

curl --fail --silent --show-error --location --proto '=https' --output "$work/uplot.tgz" "$TARBALL_URL"
actual="sha512-$(openssl dgst -sha512 -binary "$work/uplot.tgz" | openssl base64 -A)"
if [ "$actual" != "$INTEGRITY" ]; then
    echo "uplot-$VERSION.tgz: integrity mismatch" >&2
    echo "  expected $INTEGRITY" >&2
    echo "  got      $actual" >&2
    exit 1
fi
tar -xzf "$work/uplot.tgz" -C "$work"
mkdir -p "$out"
cp "$work/package/dist/uPlot.esm.js" "$work/package/dist/uPlot.min.css" "$work/package/LICENSE" "$out/"
cat > "$out/VERSION" <<NOTE
uPlot $VERSION from the npm registry ($TARBALL_URL)
integrity $INTEGRITY
files: dist/uPlot.esm.js, dist/uPlot.min.css, LICENSE (unchanged)
fetched by viewer/vendor/fetch-uplot.sh
NOTE
echo "uPlot $VERSION vendored into $out"
