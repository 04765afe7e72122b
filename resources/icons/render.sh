#!/usr/bin/env bash
# Render the hicolor PNG icons from the SVG sources. The PNGs are committed, so this only needs
# running after editing an SVG. Needs rsvg-convert (Debian: librsvg2-bin).
#   16-24 px come from the small-size variant, 32 px and up from the full icon.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
app_id="io.github.studio_app.Studio"
command -v rsvg-convert >/dev/null || { echo "render.sh: rsvg-convert missing (apt-get install librsvg2-bin)" >&2; exit 1; }
for size in 16 22 24 32 48 64 128 256 512; do
    src="$here/$app_id.svg"
    if [ "$size" -le 24 ]; then src="$here/$app_id-small.svg"; fi
    out="$here/hicolor/${size}x${size}/apps/$app_id.png"
    mkdir -p "$(dirname "$out")"
    rsvg-convert --width "$size" --height "$size" --keep-aspect-ratio "$src" --output "$out"
    echo "rendered $out"
done
