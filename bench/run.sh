#!/usr/bin/env bash
# make bench: Nexus vs Debian's PyTorch (OpenBLAS), same model and protocol, side by side in one run.
# Writes bench/results/training.json and prints a Markdown table for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
configuration="${1:-Release}"
steps="${BENCH_STEPS:-30}"
threads="${BENCH_THREADS:-$(nproc)}"
python=/usr/bin/python3   # Debian's python3, which python3-torch installs into

if ! "$python" -c "import torch" 2>/dev/null; then
    echo "Installing Debian's python3-torch and OpenBLAS (the benchmark's peer)..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null
fi
# Debian's default reference BLAS is ~30x slower; the fair peer uses OpenBLAS.
if [[ -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ]]; then
    update-alternatives --set libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 >/dev/null 2>&1 || true
fi

bench="bench/Nexus.Bench/bin/$configuration/net10.0/linux-x64/Nexus.Bench"
mkdir -p bench/results
results=bench/results/training.json
echo "[" > "$results"
first=1
for preset in 3m 25m; do
    for variant in nexus-sdpa nexus-explicit nexus-sdpa-glibc pytorch; do
        case $variant in
            nexus-sdpa) line=$("$bench" train --preset "$preset" --steps "$steps" --threads "$threads") ;;
            nexus-explicit) line=$("$bench" train --preset "$preset" --steps "$steps" --threads "$threads" --no-sdpa) ;;
            nexus-sdpa-glibc) line=$("$bench" train --preset "$preset" --steps "$steps" --threads "$threads" --glibc-default) ;;
            pytorch) line=$("$python" bench/peer/llama_train.py --preset "$preset" --steps "$steps" --threads "$threads") ;;
        esac
        echo "$preset $variant: $line" >&2
        [[ $first -eq 1 ]] || echo "," >> "$results"
        first=0
        echo "{\"variant\": \"$variant\", \"result\": $line}" >> "$results"
    done
done
echo "]" >> "$results"

"$python" - "$results" "$threads" "$steps" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
by = {(r["result"]["preset"], r["variant"]): r["result"] for r in rows}
print(f"\nTraining, fp32, batch 16 x 128 tokens, {sys.argv[2]} threads, {sys.argv[3]} measured steps after 5 warm-up steps\n")
print("| model | implementation | tokens/s | vs PyTorch | peak RSS (MiB) | vs PyTorch |")
print("|---|---|---:|---:|---:|---:|")
for preset in ("3m", "25m"):
    peer = by[(preset, "pytorch")]
    for variant in ("nexus-sdpa", "nexus-explicit", "nexus-sdpa-glibc", "pytorch"):
        r = by[(preset, variant)]
        print(f"| {preset} ({r['parameters']/1e6:.1f}M) | {r['implementation']} | {r['tokens_per_second']:,.0f} | "
              f"{r['tokens_per_second']/peer['tokens_per_second']:.2f}x | {r['peak_rss_bytes']/2**20:,.0f} | "
              f"{r['peak_rss_bytes']/peer['peak_rss_bytes']:.2f}x |")
PY

echo
echo "MoE layer step (forward+backward, and inference with E precomputed):"
"$bench" moe-step --threads "$threads" --repeats 10 | tee bench/results/moe-step.json
