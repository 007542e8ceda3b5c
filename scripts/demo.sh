#!/usr/bin/env bash
# `make demo`: the examples/ mix on this machine with `nexus run` (docs/local-run.md), on real text.
#
#   1. data   the six domains `make data` prepared (DATA, default .cache/nexus-data) go where the examples' manifests
#             look for them, s3://corpora/nexus-data/DOMAIN: with no S3 credentials set, nexus run reads s3://BUCKET/KEY
#             from ROOT/s3/BUCKET/KEY.
#   2. seed   a small Llama trained on the four initial domains, published at s3://models/runs/seed (the seed the
#             manifests name).
#   3. run    `nexus run` on a folder holding the four expert-*.yaml and nexusmodel-demo.yaml from examples/, as written:
#             four experts trained and embedded, upcycled, finetuned, evaluated, served (revision 1).
#   4. extend examples/extension/code-expert.yaml is copied into that folder while nexus run watches it: the code
#             expert is trained and appended, and the server rolls to revision 2 while a client keeps calling it.
#   5. serve  the model answers completions at http://127.0.0.1:PORT; then nexus run is stopped.
#
# Resumable: finished parts are kept (ROOT/state.json, the seed's manifest), so running it again goes on from there.
# Settings (environment): NEXUS (the binary), DATA, OUT (default runs/nexus-demo), PORT (8080), PARALLEL (2),
# SEED_STEPS (600).
set -euo pipefail

NEXUS=${NEXUS:?set NEXUS to the nexus binary (make demo does)}
DATA=${DATA:-.cache/nexus-data}
OUT=${OUT:-runs/nexus-demo}
PORT=${PORT:-8080}
PARALLEL=${PARALLEL:-2}
SEED_STEPS=${SEED_STEPS:-600}
INITIAL=(news science books speeches)

OUT=$(realpath -m "$OUT")
ROOT=$OUT/nexus
MANIFESTS=$OUT/manifests
BUCKETS=$ROOT/s3
LOG=$OUT/run.log
started=$SECONDS

say() { printf '\n== %s (%s)\n' "$*" "$(elapsed)"; }
elapsed() { local s=$((SECONDS - started)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
fail() { echo "demo: $*" >&2; exit 1; }

[[ -f $DATA/manifest.json ]] || fail "no prepared data in $DATA; run 'make data' first (make demo does)."
for d in "${INITIAL[@]}" code; do [[ -d $DATA/$d ]] || fail "$DATA has no $d domain; run 'make data' again."; done
command -v curl >/dev/null || fail "curl is needed to call the served model."
command -v node >/dev/null || fail "node is needed to read the served model's JSON (make data needs it too)."

say "1/5 data: six real domains from $DATA, as s3://corpora/nexus-data (read from $BUCKETS)"
if [[ ! -f $BUCKETS/corpora/nexus-data/manifest.json ]]; then
  mkdir -p "$BUCKETS/corpora"
  rm -rf "$BUCKETS/corpora/nexus-data.tmp"
  cp -r "$DATA" "$BUCKETS/corpora/nexus-data.tmp"
  mv "$BUCKETS/corpora/nexus-data.tmp" "$BUCKETS/corpora/nexus-data"
fi
du -sh --apparent-size "$BUCKETS/corpora/nexus-data" | cut -f1 | xargs printf '%s of token shards: '
ls "$BUCKETS/corpora/nexus-data" | grep -v manifest.json | tr '\n' ' '; echo

say "2/5 seed: a 0.8M-parameter Llama on ${INITIAL[*]}, $SEED_STEPS steps of 16 x 128 tokens, published at s3://models/runs/seed"
if [[ -f $BUCKETS/models/runs/seed/manifest.json ]]; then
  echo "already trained ($BUCKETS/models/runs/seed)"
else
  data=(); for d in "${INITIAL[@]}"; do data+=("$BUCKETS/corpora/nexus-data/$d"); done
  "$NEXUS" train --data "${data[@]}" --out "file://$BUCKETS/models/runs/seed" --model-size small --steps "$SEED_STEPS" \
    --batch-size 16 --seq-len 128 --lr 3e-3 --warmup 30 --eval-every 200 --checkpoint-every 0 --seed 1234
fi

say "3/5 nexus run $MANIFESTS (examples/expert-{news,science,books,speeches}.yaml and nexusmodel-demo.yaml, as written)"
mkdir -p "$MANIFESTS"
if [[ ! -f $MANIFESTS/nexusmodel-demo.yaml ]]; then
  cp examples/expert-*.yaml examples/nexusmodel-demo.yaml "$MANIFESTS/"
fi
: > "$LOG"
"$NEXUS" run "$MANIFESTS" --root "$ROOT" --parallel "$PARALLEL" --port "$PORT" >> "$LOG" 2>&1 &
run_pid=$!
tail --pid=$run_pid -n +1 -f "$LOG" &
tail_pid=$!
client_pid=
cleanup() {
  [[ -n $client_pid ]] && kill "$client_pid" 2>/dev/null
  kill -TERM "$run_pid" 2>/dev/null && { wait "$run_pid" 2>/dev/null || true; }
  sleep 0.2; kill "$tail_pid" 2>/dev/null
  return 0
}
trap cleanup EXIT

# wait_for PATTERN: until the run's output has a line matching PATTERN (fails if nexus run exits first).
wait_for() {
  until grep -q -- "$1" "$LOG"; do
    kill -0 "$run_pid" 2>/dev/null || fail "nexus run exited before '$1'; its output is in $LOG, its steps' in $ROOT/logs."
    grep -q "demo: Failed" "$LOG" && fail "the NexusModel failed (see above; its steps' output is in $ROOT/logs)."
    sleep 1
  done
}
json() { # json EXPRESSION: the JavaScript EXPRESSION of d, the JSON document on stdin
  node -e 'let s = ""; process.stdin.on("data", c => s += c).on("end", () => { const d = JSON.parse(s); console.log(eval(process.argv[1])); });' "$1"
}
complete() { # complete PROMPT: the served model's continuation of PROMPT (sampled, seeded: the same text every time)
  local body
  body=$(node -e 'console.log(JSON.stringify({model: "demo", prompt: process.argv[1], max_tokens: 80, temperature: 0.8, top_p: 0.95, seed: 7}))' "$1")
  curl -sf "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: application/json' -d "$body" | json 'JSON.stringify(d.choices[0].text)'
}

wait_for "NexusModel default/demo Ready: revision"
say "4/5 extend: examples/extension/code-expert.yaml copied into $MANIFESTS while nexus run watches it"
# A client calls the served model every 2 s while revision 2 is built and rolled out.
: > "$OUT/client.log"
(
  while true; do
    curl -s -o /dev/null -w '%{http_code}\n' -m 30 "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: application/json' \
      -d '{"model": "demo", "prompt": "The ", "max_tokens": 8}' >> "$OUT/client.log" || echo 000 >> "$OUT/client.log"
    sleep 2
  done
) &
client_pid=$!
cp examples/extension/code-expert.yaml "$MANIFESTS/"
wait_for "NexusModel default/demo Ready: revision 2"
kill "$client_pid"; client_pid=
sleep 0.5
say "5/5 serve: the model at http://127.0.0.1:$PORT (OpenAI completions), revision 2"
total=$(wc -l < "$OUT/client.log"); ok=$(grep -c '^200$' "$OUT/client.log" || true)
echo "while revision 2 was built and rolled out, a client called the model $total times: $ok answered 200, $((total - ok)) did not"
echo "GET /v1/models: $(curl -sf "http://127.0.0.1:$PORT/v1/models" | json 'd.data.map(m => m.id).join(", ")')"
for prompt in "The president said that " "function parse(input) {" "The court ruled "; do
  printf 'POST /v1/completions "%s"\n  → %s\n' "$prompt" "$(complete "$prompt")"
done
say "done: stopping nexus run"
cleanup; trap - EXIT
cat <<EOF

Everything is in $OUT: manifests/ (the folder nexus run watched), nexus/ (state.json, kubeconfig, logs/ of every step,
artifacts/ with every revision, s3/ the local buckets). To serve the model again (it resumes at once):
  $NEXUS run $MANIFESTS --root $ROOT --port $PORT
  curl http://127.0.0.1:$PORT/v1/completions -H 'Content-Type: application/json' -d '{"prompt": "The ", "max_tokens": 40}'
Delete $MANIFESTS/code-expert.yaml while it runs and it rolls out revision 3, without the code expert.
EOF
