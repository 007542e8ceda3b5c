#!/usr/bin/env bash
# The export tests compare with a reference forward run by Debian's python3 and its python3-torch
# (tests/reference/hf_moe_reference.py). Installs it when missing and apt can; never fails: without it
# those tests are skipped, with a message saying why.
python=/usr/bin/python3   # Debian's python3, which python3-torch installs into (not the python3 first on PATH)
if "$python" -c "import torch" 2>/dev/null; then
    exit 0
fi
echo "Installing Debian's python3-torch for the export reference tests..."
if command -v apt-get >/dev/null 2>&1 &&
    apt-get update -qq >/dev/null 2>&1 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null 2>&1 &&
    "$python" -c "import torch" 2>/dev/null; then
    echo "python3-torch installed."
else
    echo "note: could not install python3-torch (needs apt and root); the export reference tests will be skipped." >&2
fi
exit 0
