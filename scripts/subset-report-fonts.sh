#!/usr/bin/env bash
# Regenerates the fonts embedded in Nexus.Training for report images (src/Nexus.Training/Reports/Fonts):
# DejaVu Sans and DejaVu Sans Bold from Debian's fonts-dejavu-core, cut to Latin, Greek, Cyrillic, common
# punctuation and U+FFFD (drawn for characters no font has): about 80 KB each instead of 750 KB.
# Needs Debian's fonts-dejavu-core and fonttools.
set -euo pipefail
source_dir=/usr/share/fonts/truetype/dejavu
target_dir="$(dirname "$0")/../src/Nexus.Training/Reports/Fonts"
unicodes="U+0020-007E,U+00A0-024F,U+0370-03FF,U+0400-04FF,U+2000-206F,U+20AC,U+2190-2199,U+2212,U+2264-2265,U+FFFD"
for font in DejaVuSans DejaVuSans-Bold; do
    pyftsubset "$source_dir/$font.ttf" --unicodes="$unicodes" --layout-features='kern,liga' --no-hinting \
        --output-file="$target_dir/$font.ttf"
done
cp /usr/share/doc/fonts-dejavu-core/copyright "$target_dir/LICENSE"
