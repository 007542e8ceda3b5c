#!/usr/bin/env bash
# The S3 back end's tests run against s3rver, an S3-protocol server in Node.js, on loopback (no Docker).
# Installs the pinned version into .cache/tools once; the test fixture starts and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
version=3.7.1
tools=.cache/tools
if [[ -f $tools/node_modules/s3rver/package.json ]] && grep -q "\"version\": \"$version\"" $tools/node_modules/s3rver/package.json; then
    exit 0
fi
command -v npm >/dev/null || { echo "ensure-s3rver.sh: npm is missing; the S3 storage tests need Node.js and npm." >&2; exit 1; }
echo "Installing s3rver@$version into $tools for the S3 storage tests..."
mkdir -p "$tools"
npm install --prefix "$tools" --no-audit --no-fund --loglevel=error "s3rver@$version" >/dev/null
