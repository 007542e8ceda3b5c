#!/usr/bin/env bash
# Small-scale reproduction of the Nexus paper's claims with the `nexus` CLI only (docs/reproduction.md).
#
#   bench/reproduce.sh [--quick | --smoke] [--scale N] [--runs R] [--run I] [--out DIR]
#   --quick: the real data with tiny budgets (minutes); --smoke: the tiny model and budgets the test suite's synthetic
#   corpus uses (ReproductionSmokeTests). Neither's numbers are the result.
#   env: SCALE (steps multiplier, default 1), RUNS (default 1), ONLY_RUN (run only run I of RUNS), PARALLEL (1: the
#        RUNS runs side by side, THREADS each, then one summary), MODEL_SIZE (preset, default small; --smoke: tiny),
#        THREADS (default 2; with PARALLEL=1, 1),
#        DATA (default .cache/nexus-data: a prepared dataset, or any folder with one text folder per domain),
#        INITIAL (default "news science books speeches"), EXTENSION (default code), REMOVED (default speeches),
#        OUT (default runs/reproduce; --quick: runs/reproduce-quick), CONFIGURATION (default Release),
#        REPORT (default bench/results/reproduction.md)
#
# Resumable: every step writes its output folder (or report file) atomically, so a step whose output exists is skipped.
set -euo pipefail

cd "$(dirname "$0")/.."
CONFIGURATION=${CONFIGURATION:-Release}
NEXUS=${NEXUS:-src/Nexus.Cli/bin/$CONFIGURATION/net10.0/linux-x64/nexus}
BENCH=${BENCH:-bench/Nexus.Bench/bin/$CONFIGURATION/net10.0/linux-x64/Nexus.Bench}
DATA=${DATA:-.cache/nexus-data}
SCALE=${SCALE:-1}
RUNS=${RUNS:-1}
MODEL_SIZE=${MODEL_SIZE:-}
THREADS=${THREADS:-}
QUICK=0
SMOKE=0
ONLY_RUN=${ONLY_RUN:-}
PARALLEL=${PARALLEL:-0}
[[ -n $THREADS ]] || THREADS=$([[ $PARALLEL == 1 ]] && echo 1 || echo 2)
OUT=${OUT:-}
REPORT=${REPORT:-bench/results/reproduction.md}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --smoke) SMOKE=1 ;;
    --scale) SCALE=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --run) ONLY_RUN=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "reproduce.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

INITIAL_LIST=${INITIAL:-news science books speeches}
read -r -a INITIAL <<< "$INITIAL_LIST"
EXTENSION=${EXTENSION:-code}
REMOVED=${REMOVED:-speeches}

# Step budgets (steps of BATCH x SEQ_LEN tokens), before SCALE.
BATCH=16
SEQ_LEN=128
if [[ $SMOKE == 1 ]]; then
  OUT=${OUT:-runs/reproduce-smoke}; MODEL_SIZE=${MODEL_SIZE:-tiny}; BATCH=8; SEQ_LEN=64
  SEED_STEPS=100; EXPERT_STEPS=100; FINETUNE_STEPS=40; EVAL_TOKENS=2048; EMBED_TOKENS=2048; WARMUP=5
  EXTEND_STEPS_LIST=(3 6 12)
elif [[ $QUICK == 1 ]]; then
  OUT=${OUT:-runs/reproduce-quick}
  SEED_STEPS=60; EXPERT_STEPS=20; FINETUNE_STEPS=20; EVAL_TOKENS=8192; EMBED_TOKENS=8192; WARMUP=5
  EXTEND_STEPS_LIST=(2 5 10)   # floor: at least a couple of steps each at smoke scale
else
  OUT=${OUT:-runs/reproduce}
  SEED_STEPS=1200; EXPERT_STEPS=400; FINETUNE_STEPS=400; EVAL_TOKENS=32768; EMBED_TOKENS=65536; WARMUP=30
  EXTEND_STEPS_LIST=(8 20 40)  # 2%, 5%, 10% of the upcycling finetune
fi
MODEL_SIZE=${MODEL_SIZE:-small}
scale() { awk -v n="$1" -v s="$SCALE" 'BEGIN { v = int(n * s + 0.5); print (v < 1 ? 1 : v) }'; }
SEED_STEPS=$(scale $SEED_STEPS); EXPERT_STEPS=$(scale $EXPERT_STEPS); FINETUNE_STEPS=$(scale $FINETUNE_STEPS)
for i in "${!EXTEND_STEPS_LIST[@]}"; do EXTEND_STEPS_LIST[$i]=$(scale "${EXTEND_STEPS_LIST[$i]}"); done
# Compute matching (docs/reproduction.md): an MoE token costs about 2 dense tokens (shared FFN + 1 routed FFN;
# attention is shared and the router negligible, so 2x is an upper bound), so the seed continued on the mix gets
# 4 experts' steps + 2x the finetune's steps.
CONTINUE_STEPS=$(( 4 * EXPERT_STEPS + 2 * FINETUNE_STEPS ))

[[ -x $NEXUS ]] || { echo "reproduce.sh: $NEXUS is missing; run 'make build' first." >&2; exit 1; }
for d in "${INITIAL[@]}" "$EXTENSION"; do
  [[ -d $DATA/$d ]] || { echo "reproduce.sh: $DATA has no domain '$d' ($DATA/$d); run 'make data' first, or set DATA, INITIAL and EXTENSION." >&2; exit 1; }
done
[[ " ${INITIAL[*]} " == *" $REMOVED "* ]] || { echo "reproduce.sh: REMOVED '$REMOVED' is not one of the initial domains (${INITIAL[*]})." >&2; exit 2; }

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
# step DONE CMD...: runs CMD unless DONE exists. Every nexus step writes its output folder or report atomically, so
# DONE (the model folder, or the report) exists only when the step finished; train/finetune also --resume.
step() {
  local done=$1; shift
  if [[ -e $done ]]; then log "skip  $done (exists)"; return; fi
  log "run   $done"
  local start=$SECONDS logfile=$RUN/logs/$(echo "${done#"$RUN"/}" | tr / _).log
  mkdir -p "$RUN/logs"
  "$@" > "$logfile" 2>&1 || { echo "reproduce.sh: step for $done failed; its log: $logfile" >&2; tail -20 "$logfile" >&2; exit 1; }
  log "done  $done ($((SECONDS - start)) s)"
  printf '%s\t%s\n' "$done" "$((SECONDS - start))" >> "$RUN/timings.tsv"
}

common=(--threads "$THREADS" --batch-size $BATCH --seq-len $SEQ_LEN --eval-tokens 4096 --checkpoint-every 100 --keep-checkpoints 1 --resume)
# A domain's data is DATA/NAME: a prepared dataset's domain folder, or a folder of text files.
mix=(); domains4=(); for d in "${INITIAL[@]}"; do mix+=("$DATA/$d"); domains4+=(--domain "$d=$DATA/$d"); done
domains5=("${domains4[@]}" --domain "$EXTENSION=$DATA/$EXTENSION")

evaluate() { # evaluate NAME MODEL DOMAINS...
  local name=$1 model=$2; shift 2
  mkdir -p "$RUN/eval/$name"
  step "$RUN/eval/$name/report.json" "$NEXUS" evaluate --model "$model" "$@" --threads "$THREADS" \
    --seq-len $SEQ_LEN --eval-tokens $EVAL_TOKENS --out "$RUN/eval/$name/report.json" --plots "$RUN/eval/$name"
}

if [[ -n $ONLY_RUN ]]; then
  [[ $ONLY_RUN =~ ^[0-9]+$ && $ONLY_RUN -ge 1 && $ONLY_RUN -le $RUNS ]] || { echo "reproduce.sh: --run $ONLY_RUN is not between 1 and --runs $RUNS." >&2; exit 2; }
  run_ids=("$ONLY_RUN")
else
  run_ids=($(seq 1 "$RUNS"))
fi
if [[ $PARALLEL == 1 && -z $ONLY_RUN && $RUNS -gt 1 ]]; then
  # Each run in its own process (this script with --run I), its log in OUT/run-I.log; the summary once all are done.
  mkdir -p "$OUT"
  flags=(--scale "$SCALE" --runs "$RUNS" --out "$OUT"); [[ $QUICK == 1 ]] && flags+=(--quick); [[ $SMOKE == 1 ]] && flags+=(--smoke)
  pids=()
  for run in "${run_ids[@]}"; do
    INITIAL=$INITIAL_LIST PARALLEL=0 SUMMARY=0 "$0" "${flags[@]}" --run "$run" > "$OUT/run-$run.log" 2>&1 &
    pids+=($!); log "run $run of $RUNS started in the background (pid $!), log: $OUT/run-$run.log"
  done
  failed=0
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || { echo "reproduce.sh: run ${run_ids[$i]} failed; see $OUT/run-${run_ids[$i]}.log" >&2; failed=1; }; done
  [[ $failed == 0 ]] || exit 1
  run_ids=()  # every run is done: the loop below only skips, and the summary follows
fi
mkdir -p "$OUT"
cat > "$OUT/settings.txt" <<SETTINGS
model_size=$MODEL_SIZE scale=$SCALE runs=$RUNS quick=$QUICK smoke=$SMOKE threads=$THREADS batch=$BATCH seq_len=$SEQ_LEN
seed_steps=$SEED_STEPS expert_steps=$EXPERT_STEPS finetune_steps=$FINETUNE_STEPS continue_steps=$CONTINUE_STEPS
extend_steps=${EXTEND_STEPS_LIST[*]} eval_tokens=$EVAL_TOKENS embed_tokens=$EMBED_TOKENS
initial=${INITIAL[*]} extension=$EXTENSION removed=$REMOVED data=$DATA
SETTINGS
log "settings: $(tr '\n' ' ' < "$OUT/settings.txt")"

for run in "${run_ids[@]}"; do
  RUN=$OUT/run-$run
  SEED=$((1233 + run))
  mkdir -p "$RUN"
  log "== run $run of $RUNS (seed $SEED) in $RUN"
  lr=(--lr 3e-3 --warmup $WARMUP --seed $SEED)

  # 1. Seed: a small Llama on the mix of the four initial domains.
  step "$RUN/seed/model" "$NEXUS" train --data "${mix[@]}" --out "$RUN/seed" --model-size "$MODEL_SIZE" --steps $SEED_STEPS "${lr[@]}" "${common[@]}"
  # 2. Branch: one dense expert per domain (initial ones and the extension's), same budget; their domain embeddings.
  for d in "${INITIAL[@]}" $EXTENSION; do
    step "$RUN/expert-$d/model" "$NEXUS" train --init "$RUN/seed/model" --data "$DATA/$d" --out "$RUN/expert-$d" --steps $EXPERT_STEPS "${lr[@]}" "${common[@]}"
    step "$RUN/embed-$d.json" "$NEXUS" embed --name "$d" --model "$RUN/seed/model" --data "$DATA/$d" --sample-tokens $EMBED_TOKENS \
      --seq-len $SEQ_LEN --out "$RUN/embed-$d.json"
  done
  experts=(); embeddings=()
  for d in "${INITIAL[@]}"; do experts+=(--expert "$d=$RUN/expert-$d/model"); embeddings+=(--embedding "$RUN/embed-$d.json"); done
  # 3. Baselines: the seed trained further on the mix with the same compute; the experts' parameter average.
  step "$RUN/seed-continued/model" "$NEXUS" train --init "$RUN/seed/model" --data "${mix[@]}" --out "$RUN/seed-continued" --steps $CONTINUE_STEPS "${lr[@]}" "${common[@]}"
  dense=(); for d in "${INITIAL[@]}"; do dense+=(--model "$RUN/expert-$d/model"); done
  step "$RUN/dense-average" "$NEXUS" average "${dense[@]}" --out "$RUN/dense-average"
  # 4. Upcycle with either router and finetune on the mix of the four domains.
  for router in linear nexus; do
    step "$RUN/moe-$router" "$NEXUS" upcycle --seed-model "$RUN/seed/model" "${experts[@]}" "${embeddings[@]}" --router $router --seed $SEED --out "$RUN/moe-$router"
    step "$RUN/moe-$router-ft/model" "$NEXUS" finetune --model "$RUN/moe-$router" "${domains4[@]}" --out "$RUN/moe-$router-ft" --steps $FINETUNE_STEPS "${lr[@]}" "${common[@]}"
  done
  evaluate seed "$RUN/seed/model" "${domains5[@]}"
  for d in "${INITIAL[@]}" $EXTENSION; do evaluate "expert-$d" "$RUN/expert-$d/model" "${domains5[@]}"; done
  evaluate seed-continued "$RUN/seed-continued/model" "${domains5[@]}"
  evaluate dense-average "$RUN/dense-average" "${domains5[@]}"
  evaluate linear "$RUN/moe-linear-ft/model" "${domains5[@]}"
  evaluate nexus "$RUN/moe-nexus-ft/model" "${domains5[@]}"
  # 5. Extension with the code expert at three small finetune budgets.
  for router in linear nexus; do
    for steps in "${EXTEND_STEPS_LIST[@]}"; do
      name=$router-extend-$steps
      step "$RUN/$name-ft/model" "$NEXUS" extend --model "$RUN/moe-$router-ft/model" --expert "$EXTENSION=$RUN/expert-$EXTENSION/model" \
        --embedding "$RUN/embed-$EXTENSION.json" --out "$RUN/$name" "${domains5[@]}" --steps "$steps" --finetune-out "$RUN/$name-ft" \
        --lr 3e-3 --warmup 0 --seed $SEED "${common[@]}"
      evaluate "$name" "$RUN/$name-ft/model" "${domains5[@]}"
    done
  done
  # 6. Removal: drop one expert from the finetuned Nexus model, no further training; evaluate before (above) and after.
  step "$RUN/nexus-remove-$REMOVED" "$NEXUS" remove --model "$RUN/moe-nexus-ft/model" --expert $REMOVED --out "$RUN/nexus-remove-$REMOVED"
  evaluate nexus-remove-$REMOVED "$RUN/nexus-remove-$REMOVED" "${domains5[@]}"
done

# 7. Summary tables and heat maps (once, by the parent, when the runs went side by side).
if [[ ${SUMMARY:-1} == 0 ]]; then
  :
elif [[ -x $BENCH ]]; then
  mkdir -p "$(dirname "$REPORT")"
  "$BENCH" reproduce-report --runs "$OUT" --out "$REPORT"
  log "wrote $REPORT"
else
  echo "reproduce.sh: $BENCH is missing (make build); skipping the summary." >&2
fi
