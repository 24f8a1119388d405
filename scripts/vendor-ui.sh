#!/usr/bin/env bash
# Vendor the built uPlot files into runtree/ui/static/vendor/, so `pip install runtree` serves a working UI
# without Node.js. Run it to upgrade uPlot (UPLOT_VERSION=1.6.32 bash scripts/vendor-ui.sh), then commit
# the copied files and VERSIONS.txt. Needs npm; nothing else of Node is used at run time.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${UPLOT_VERSION:-1.6.32}
DEST=runtree/ui/static/vendor
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# `npm pack` fetches the published tarball only: no install scripts run, no dependencies are pulled.
(cd "$TMP" && npm pack --silent "uplot@${VERSION}" >/dev/null)
tar -xzf "$TMP"/uplot-"${VERSION}".tgz -C "$TMP"
PKG="$TMP/package"
[ -f "$PKG/dist/uPlot.iife.min.js" ] && [ -f "$PKG/dist/uPlot.min.css" ] || { echo "vendor-ui: uplot@$VERSION has no dist/ build" >&2; exit 1; }

mkdir -p "$DEST"
cp "$PKG/dist/uPlot.iife.min.js" "$PKG/dist/uPlot.min.css" "$DEST/"
cp "$PKG/LICENSE" "$DEST/uPlot.LICENSE"
{
    echo "# Third-party files in this folder, copied by scripts/vendor-ui.sh; do not edit by hand."
    echo "uplot $VERSION (MIT, https://github.com/leeoniya/uPlot): uPlot.iife.min.js uPlot.min.css uPlot.LICENSE"
    (cd "$DEST" && sha256sum uPlot.iife.min.js uPlot.min.css)
} >"$DEST/VERSIONS.txt"
echo "vendored uplot $VERSION into $DEST"
