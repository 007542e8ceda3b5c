#!/usr/bin/env bash
# make bench: Nexus vs Debian's PyTorch (OpenBLAS), same model and protocol, side by side in one run;
# then the MoE layer step, the upcycle's throughput against the disk's own bandwidth, and artifact storage
# (file:// and s3:// on a loopback s3rver) against cp; and the operator at scale (1,000 Experts at once against the
# test API server, then an idle stretch) against the API server's raw create rate; and serving (`nexus serve` as its own
# process on loopback, a Nexus MoE and a dense model of the same active size, under closed-loop load at concurrency 1, 4, 16).
# Writes bench/results/{training,moe-step,upcycle,storage,operator,serve}.json and prints Markdown tables for docs/benchmarks.md.
# BENCH_ONLY=train|moe-step|upcycle|storage|operator|serve (comma-separated) runs just those parts; BENCH_SERVE_SECONDS (120)
# and BENCH_SERVE_TOP_K (2) set the serving part's seconds per concurrency level and the MoE's experts per token; BENCH_UPCYCLE_CACHE=cold (default),
# warm or cold,warm picks the page-cache state the upcycle is measured in (cold drops caches: root); BENCH_EXPERTS=N sets
# the operator part's Expert count (1000).
set -euo pipefail
cd "$(dirname "$0")/.."
configuration="${1:-Release}"
steps="${BENCH_STEPS:-30}"
threads="${BENCH_THREADS:-$(nproc)}"
python=/usr/bin/python3   # Debian's python3, which python3-torch installs into
only="${BENCH_ONLY:-train,moe-step,upcycle,storage,operator,serve}"
wants() { [[ ",$only," == *",$1,"* ]]; }

bench="bench/Nexus.Bench/bin/$configuration/net10.0/linux-x64/Nexus.Bench"
nexus="src/Nexus.Cli/bin/$configuration/net10.0/linux-x64/nexus"
operator_bench="bench/Nexus.Operator.Bench/bin/$configuration/net10.0/linux-x64/Nexus.Operator.Bench"
mkdir -p bench/results
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB," \
     "disk $(df --output=source,fstype / | tail -1 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

if wants train; then
    if ! "$python" -c "import torch" 2>/dev/null; then
        echo "Installing Debian's python3-torch and OpenBLAS (the benchmark's peer)..."
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null
    fi
    # Debian's default reference BLAS is ~30x slower; the fair peer uses OpenBLAS.
    if [[ -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ]]; then
        update-alternatives --set libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 >/dev/null 2>&1 || true
    fi

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
fi

if wants moe-step; then
    echo
    echo "MoE layer step (forward+backward; Nexus vs linear router paired, training and inference with E precomputed):"
    "$bench" moe-step --threads "$threads" --repeats 10 | tee bench/results/moe-step.json
fi

if wants upcycle; then
    echo
    echo "Upcycle throughput and peak RSS (Nexus router, 2 and 4 experts of a 1.5 GB model) vs a sequential copy:"
    "$bench" upcycle --experts 2,4 --repeats 3 --cache "${BENCH_UPCYCLE_CACHE:-cold}" > bench/results/upcycle.json
    "$python" - bench/results/upcycle.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"\n{r['config']}: {r['parameters']/1e6:.0f}M parameters, {r['checkpoint_bytes']/1e9:.2f} GB per checkpoint\n")
print("| cache | experts | read + written (GB) | upcycle (GB/s) | sequential copy (GB/s) | upcycle / copy: median (min-max) | CPU s: upcycle / copy | peak RSS (MiB) |")
print("|---|---:|---:|---:|---:|---|---|---:|")
for s in r["summary"]:
    print(f"| {s['cache']} | {s['experts']} | {(s['read_bytes'] + s['written_bytes'])/1e9:.1f} | "
          f"{s['upcycle_bytes_per_second_median']/1e9:.2f} | {s['peer_bytes_per_second_median']/1e9:.2f} | "
          f"{s['upcycle_over_peer_median']:.2f} ({s['upcycle_over_peer_min']:.2f}-{s['upcycle_over_peer_max']:.2f}) | "
          f"{s['upcycle_cpu_seconds_median']:.1f} / {s['peer_cpu_seconds_median']:.1f} | "
          f"{s['peak_rss_bytes_min']/2**20:.0f}-{s['peak_rss_bytes_max']/2**20:.0f} |")
PY
fi

if wants storage; then
    echo
    echo "Artifact storage: publish and fetch of a 1 GB file through file:// and s3:// (loopback s3rver) vs cp:"
    scripts/ensure-s3rver.sh
    "$bench" storage --size-mb 1024 > bench/results/storage.json
    "$python" - bench/results/storage.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
cp = r["cp"]["mb_per_s"]
print(f"\n{r['bytes']/2**20:.0f} MiB, page cache {r['page_cache']}, S3 parts of {r['part_mb']} MiB\n")
print("| operation | seconds | MB/s | / cp | peak RSS (MiB) |")
print("|---|---:|---:|---:|---:|")
for key, label in [("cp", "cp"), ("file_publish", "file:// publish"), ("file_fetch", "file:// fetch"), ("s3_publish", "s3:// publish"), ("s3_fetch", "s3:// fetch")]:
    x = r[key]
    print(f"| {label} | {x['seconds']:.2f} | {x['mb_per_s']:.0f} | {x['mb_per_s']/cp:.2f} | {x['peak_rss_bytes']/2**20:.0f} |")
PY
fi

if wants operator; then
    echo
    echo "Operator at scale: ${BENCH_EXPERTS:-1000} Experts created at once (the Expert reconciler), then an idle stretch:"
    # The first line is the JSON result, the rest the Markdown table; progress goes to stderr.
    output=$("$operator_bench" scale --experts "${BENCH_EXPERTS:-1000}" --create-concurrency 32 --workers 4 --resync 1s --idle 10s)
    head -n 1 <<<"$output" > bench/results/operator.json
    echo
    tail -n +2 <<<"$output"
fi

if wants serve; then
    seconds="${BENCH_SERVE_SECONDS:-120}"
    top_k="${BENCH_SERVE_TOP_K:-2}"   # routed experts per token of the MoE (the dense peer is matched to it)
    echo
    echo "Serving: nexus serve (--max-batch 16, $threads threads) on loopback, streamed greedy completions, ${seconds} s per concurrency level:"
    models=$(mktemp -d /tmp/nexus-serve-bench.XXXXXX)
    trap 'rm -rf "$models"' EXIT
    "$bench" serve-models --out "$models" --top-k "$top_k" > bench/results/serve-models.json
    for model in moe dense; do
        port=$((18400 + RANDOM % 500))
        "$nexus" serve --model "$models/$model" --model-id "$model" --port "$port" --max-batch 16 --threads "$threads" \
            > "bench/results/serve-$model.log" 2>&1 &
        server=$!
        # The load generator waits for /readyz itself; the server is stopped with SIGTERM (its drain path) either way.
        if ! "$bench" serve-load --url "http://127.0.0.1:$port" --concurrency 1,4,16 --seconds "$seconds" \
                --prompt-tokens 64 --max-tokens 128 --context 1024 > "bench/results/serve-$model.json"; then
            kill -TERM "$server"; wait "$server" || true
            echo "serve-load failed against the $model server; its log: bench/results/serve-$model.log" >&2
            exit 1
        fi
        kill -TERM "$server"
        wait "$server" || { echo "nexus serve ($model) exited with $?; its log: bench/results/serve-$model.log" >&2; exit 1; }
    done
    "$python" - "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, sys
models = json.load(open("bench/results/serve-models.json"))
runs = {m: json.load(open(f"bench/results/serve-{m}.json")) for m in ("moe", "dense")}
json.dump({"models": models, "runs": runs, "load_average_at_end": sys.argv[1]}, open("bench/results/serve.json", "w"), indent=1)
for m, d in models.items():
    mix = f", shared expert + {d['experts']} routed top-{d['top_k']}" if d["experts"] else ""
    print(f"\n{m}: hidden {d['hidden']}, {d['layers']} layers, {d['heads']} heads ({d['kv_heads']} KV), intermediate {d['intermediate']}{mix}, "
          f"context {d['context']}: {d['parameters']/1e6:.1f}M parameters, {d['active_parameters']/1e6:.2f}M active per token")
r0 = runs["moe"]
print(f"\nPrompt {r0['prompt_tokens']} tokens, max_tokens {r0['max_tokens']}, temperature 0, {r0['seconds_per_level']} s per level\n")
print("| model | concurrency | completed | errors | tokens/s | vs c1 | TTFT p50 / p99 (ms) | ITL p50 / p99 (ms) |")
print("|---|---:|---:|---:|---:|---:|---|---|")
for m, r in runs.items():
    c1 = r["levels"][0]["tokens_per_second"]
    for l in r["levels"]:
        print(f"| {m} | {l['concurrency']} | {l['completed']} | {l['errors']} | {l['tokens_per_second']:.1f} | {l['tokens_per_second']/c1:.2f}x | "
              f"{l['ttft_p50_ms']:.0f} / {l['ttft_p99_ms']:.0f} | {l['itl_p50_ms']:.1f} / {l['itl_p99_ms']:.1f} |")
print("\nMoE / dense (same active parameters), ITL p50:", ", ".join(
    f"c{a['concurrency']} {a['itl_p50_ms']/b['itl_p50_ms']:.2f}x" for a, b in zip(runs["moe"]["levels"], runs["dense"]["levels"])))
print("\nOne long generation (concurrency 1), ITL p50 by position (ms):\n")
buckets = {m: r["long_generation"]["buckets"] for m, r in runs.items()}
print("| positions | " + " | ".join(runs) + " |")
print("|---|" + "---:|" * len(runs))
for i, b in enumerate(buckets["moe"]):
    print(f"| {b['from']}-{b['to']} | " + " | ".join(f"{buckets[m][i]['itl_p50_ms']:.1f}" for m in runs) + " |")
print("| last / first | " + " | ".join(f"{r['long_generation']['last_over_first']:.2f}" for r in runs.values()) + " |")
print()
for m, r in runs.items():
    c = r["metrics_check"]
    print(f"/metrics vs client ({m}): " + ("agree" if c["agree"] else "MISMATCH: " + "; ".join(c["findings"])) +
          f" (server 200s {c['server_requests_by_status']}, completion tokens {c['server_completion_tokens']:.0f} vs {c['client_completion_tokens']})")
PY
fi
