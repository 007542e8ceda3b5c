#!/usr/bin/env bash
# Runs every test project and closes with one summary line: "N passed, N failed, N skipped".
set -uo pipefail
configuration="${1:-Release}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
"$(dirname "$0")/ensure-python-torch.sh"
"$(dirname "$0")/ensure-s3rver.sh" || exit 1
dotnet test Nexus.Operator.sln -c "$configuration" --no-build 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# Each project ends with e.g. "Passed!  - Failed:     0, Passed:    64, Skipped:     0, Total:    64".
read -r passed failed skipped < <(grep -E "(Passed|Failed)! +- Failed:" "$log" | awk -F'[:,]' '
    { failed += $2; passed += $4; skipped += $6 }
    END { print passed + 0, failed + 0, skipped + 0 }')
echo "Tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
if [[ $status -eq 0 && $passed -eq 0 ]]; then
    echo "No tests ran." >&2
    exit 1
fi
exit "$status"
