#!/usr/bin/env bash
# Ablation of docs/reproduction.md: the Nexus arm of `make reproduce` again, with centred domain embeddings.
#
#   bench/reproduce-centred.sh [RUNS_DIR]    (default runs/reproduce; needs a finished `make reproduce` there)
#   env: THREADS (default 1), PARALLEL (default 1: the runs side by side), CONFIGURATION (default Release)
#
# The seed's mean final hidden states of the four English domains are almost the same vector (cosine 0.99), so
# the projection starts from nearly identical inputs. Here each domain's vector minus the mean of the initial
# domains' vectors, rescaled to the vector's own length, is imported with `nexus embed --vector`; the upcycle, finetune, extension and evaluations then
# run exactly as in bench/reproduce.sh. Reports go to RUNS_DIR-centred/run-N/eval/, whose tables reproduce-report
# writes to bench/results/reproduction-centred.md.
set -euo pipefail

cd "$(dirname "$0")/.."
SOURCE=${1:-runs/reproduce}
OUT=${SOURCE%/}-centred
CONFIGURATION=${CONFIGURATION:-Release}
NEXUS=src/Nexus.Cli/bin/$CONFIGURATION/net10.0/linux-x64/nexus
BENCH=bench/Nexus.Bench/bin/$CONFIGURATION/net10.0/linux-x64/Nexus.Bench
THREADS=${THREADS:-1}
DATA=.cache/nexus-data
INITIAL=(news science books speeches)
EXTENSION=code
[[ -x $NEXUS ]] || { echo "reproduce-centred.sh: $NEXUS is missing; run 'make build' first." >&2; exit 1; }
settings=$SOURCE/settings.txt
[[ -f $settings ]] || { echo "reproduce-centred.sh: $settings is missing; run 'make reproduce' first." >&2; exit 1; }
setting() { tr ' ' '\n' < "$settings" | sed -n "s/^$1=//p" | head -1; }
FINETUNE_STEPS=$(setting finetune_steps); EVAL_TOKENS=$(setting eval_tokens); read -r -a EXTEND_STEPS <<< "$(sed -n 's/^extend_steps=\([0-9 ]*\) eval_tokens=.*/\1/p' "$settings")"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

one_run() {
  local source=$1 run=$2 seed=$3
  mkdir -p "$run/logs" "$run/eval"
  # Centred vectors: d_i − mean over the initial domains of d_j (the extension's vector is centred on the same mean),
  # rescaled to d_i's own length, so that only the directions change.
  python3 - "$source" "$run" "${INITIAL[*]}" "$EXTENSION" <<'PY'
import json, sys
source, run, initial, extension = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4]
vectors = {d: json.load(open(f"{source}/embed-{d}.json"))["vector"] for d in initial + [extension]}
mean = [sum(v[i] for v in (vectors[d] for d in initial)) / len(initial) for i in range(len(vectors[initial[0]]))]
norm = lambda v: sum(x * x for x in v) ** 0.5
for d, v in vectors.items():
    centred = [x - m for x, m in zip(v, mean)]
    scale = norm(v) / norm(centred)
    with open(f"{run}/centred-{d}.txt", "w") as f:
        f.write(" ".join(repr(x * scale) for x in centred))
PY
  local common=(--threads "$THREADS" --batch-size 16 --seq-len 128 --eval-tokens 4096 --checkpoint-every 100 --keep-checkpoints 1 --resume)
  local domains4=() domains5=() experts=() embeddings=()
  for d in "${INITIAL[@]}"; do domains4+=(--domain "$d=$DATA/$d"); experts+=(--expert "$d=$source/expert-$d/model"); done
  domains5=("${domains4[@]}" --domain "$EXTENSION=$DATA/$EXTENSION")
  for d in "${INITIAL[@]}" $EXTENSION; do
    [[ -e $run/embed-$d.json ]] || "$NEXUS" embed --name "$d" --vector "$run/centred-$d.txt" --out "$run/embed-$d.json" > /dev/null
  done
  for d in "${INITIAL[@]}"; do embeddings+=(--embedding "$run/embed-$d.json"); done
  evaluate() { [[ -e $run/eval/$1/report.json ]] || { mkdir -p "$run/eval/$1"; "$NEXUS" evaluate --model "$2" "${domains5[@]}" --threads "$THREADS" \
    --seq-len 128 --eval-tokens "$EVAL_TOKENS" --out "$run/eval/$1/report.json" --plots "$run/eval/$1" > "$run/logs/eval-$1.log" 2>&1; }; }
  [[ -e $run/moe-nexus ]] || "$NEXUS" upcycle --seed-model "$source/seed/model" "${experts[@]}" "${embeddings[@]}" --router nexus --seed "$seed" --out "$run/moe-nexus" > "$run/logs/upcycle.log"
  [[ -e $run/moe-nexus-ft/model ]] || "$NEXUS" finetune --model "$run/moe-nexus" "${domains4[@]}" --out "$run/moe-nexus-ft" --steps "$FINETUNE_STEPS" \
    --lr 3e-3 --warmup 30 --seed "$seed" "${common[@]}" > "$run/logs/finetune.log" 2>&1
  evaluate nexus "$run/moe-nexus-ft/model"
  for steps in "${EXTEND_STEPS[@]}"; do
    [[ -e $run/nexus-extend-$steps-ft/model ]] || "$NEXUS" extend --model "$run/moe-nexus-ft/model" --expert "$EXTENSION=$source/expert-$EXTENSION/model" \
      --embedding "$run/embed-$EXTENSION.json" --out "$run/nexus-extend-$steps" "${domains5[@]}" --steps "$steps" --finetune-out "$run/nexus-extend-$steps-ft" \
      --lr 3e-3 --warmup 0 --seed "$seed" "${common[@]}" > "$run/logs/extend-$steps.log" 2>&1
    evaluate "nexus-extend-$steps" "$run/nexus-extend-$steps-ft/model"
  done
  # Every other arm (seed, experts, baselines, the linear router) is unchanged: its reports are copied, so that the
  # tables compare against the same models.
  for report in "$source"/eval/*/report.json; do
    local model; model=$(basename "$(dirname "$report")")
    [[ $model == nexus* ]] && continue
    mkdir -p "$run/eval/$model" && cp "$report" "$run/eval/$model/report.json"
  done
  log "done $run"
}

pids=()
for source in "$SOURCE"/run-*; do
  n=${source##*-}
  run=$OUT/run-$n
  log "run $n: centred embeddings from $source into $run"
  if [[ ${PARALLEL:-1} == 1 ]]; then one_run "$source" "$run" $((1233 + n)) & pids+=($!); else one_run "$source" "$run" $((1233 + n)); fi
done
for pid in "${pids[@]}"; do wait "$pid"; done
cp "$settings" "$OUT/settings.txt"
"$BENCH" reproduce-report --runs "$OUT" --out bench/results/reproduction-centred.md
log "wrote bench/results/reproduction-centred.md"
