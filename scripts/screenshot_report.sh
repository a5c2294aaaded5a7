#!/usr/bin/env bash
# Renders a report.html in headless Chromium (Debian's `chromium` package) and saves a PNG
# screenshot, to check that the embedded images and tables actually show.
#
#   scripts/screenshot_report.sh [REPORT_HTML] [OUT_PNG] [HEIGHT]
#
# Defaults: runs/demo/report.html → runs/demo/report_screenshot.png, window 1400×4000.
# Installs chromium with apt-get when it is missing (needs root, as on the project machines).
set -euo pipefail
html="${1:-runs/demo/report.html}"
out="${2:-$(dirname "$html")/report_screenshot.png}"
height="${3:-4000}"
if [ ! -f "$html" ]; then
    echo "screenshot_report: $html does not exist (run 'astrodiff demo' or 'astrodiff evaluate' first)" >&2
    exit 1
fi
if ! command -v chromium >/dev/null 2>&1; then
    echo "screenshot_report: installing chromium (apt-get)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
abs_html="$(cd "$(dirname "$html")" && pwd)/$(basename "$html")"
mkdir -p "$(dirname "$out")"
abs_out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
tmp_out="${abs_out%.png}.tmp$$.png"
# No network: the report is self-contained, so nothing needs to load from outside.
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars \
    --window-size=1400,"$height" --screenshot="$tmp_out" "file://$abs_html" >/dev/null 2>&1 || true
if [ ! -s "$tmp_out" ]; then
    echo "screenshot_report: chromium wrote no screenshot for $html" >&2
    exit 1
fi
mv "$tmp_out" "$abs_out"
echo "wrote $abs_out"
