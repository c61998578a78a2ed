#!/bin/sh
# An experiment's scoring pass as a user runs it (`aapmt batch`): every row
# of the built-in demo database scored with every task's text (quality, the
# row's own prompt, authenticity) by ImageReward-v1.0's architecture (random
# weights, no training), each batch's texts from one image encoding. Prints
# the wall time, the (row, text) pairs scored per second and the peak memory.
#
#   tests/bench/experiment/run.sh [BUILD_DIR]   (default BUILD_DIR: build/ in the repo)
#
# Environment: IMAGES (rows, default 96), BATCH (evaluation batch size,
# default 8), THREADS (default: the cores we may use), REPS (timed runs,
# default 3; the median is printed), CONFIG (a model config instead of
# ImageReward-v1.0's, e.g. experiments/demo/tiny_model.json for a quick
# look). A first, untimed run draws the database.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
build=${1:-$repo/build}
images=${IMAGES:-96}
batch=${BATCH:-8}
threads=${THREADS:-$(nproc)}
reps=${REPS:-3}
config=${CONFIG:-}

if ! { [ -f "$build/CMakeCache.txt" ] || cmake -S "$repo" -B "$build" >/dev/null; } ||
   ! cmake --build "$build" --target aapmt -j "$(nproc)" >/dev/null; then
    echo "run.sh: could not build aapmt in $build" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
mkdir "$tmp/exp"
if [ -z "$config" ]; then   # ImageReward-v1.0's sizes, as a file (a random start needs one)
    config=$tmp/imagereward_v1.json
    cat >"$config" <<'JSON'
{"vision": {"image_size": 224, "patch_size": 16, "width": 1024, "depth": 24, "heads": 16, "mlp_ratio": 4.0},
 "text": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
          "vocab_size": 30524, "max_position_embeddings": 512, "layer_norm_eps": 1e-12,
          "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu"},
 "head": {"hidden_sizes": [1024, 128, 64, 16], "dropouts": [0.2, 0.2, 0.1]}}
JSON
fi
config=$(cd "$(dirname "$config")" && pwd)/$(basename "$config")
cat >"$tmp/exp/score_all.lua" <<LUA
return aapmt.experiment{
  database = {demo = {images = $images, size = 48, seed = 7, per_prompt = 2}},
  start = "random", train = false, plot = false, model_config = "$config",
  evaluate = {tasks = {"quality", "align", "authenticity"}, protocols = {"test"}, batch_size = $batch},
}
LUA
# One batch; prints "<wall s> <peak KiB>".
run_batch() {
    AAPMT_RUNS="$tmp/runs" AAPMT_CACHE="$tmp/cache" /usr/bin/time -o "$tmp/time" -f "%e %M" \
        "$build/aapmt" batch --force "$tmp/exp" threads="$threads" >"$tmp/out" 2>&1 ||
        { cat "$tmp/out" >&2; echo "run.sh: the batch failed" >&2; exit 1; }
    cat "$tmp/time"
}
echo "scoring pass: $images demo rows x 3 task texts, batch $batch, $threads threads," \
     "${CONFIG:-the ImageReward-v1.0 architecture} (random weights)" >&2
run_batch >/dev/null
: >"$tmp/times"
for i in $(seq "$reps"); do
    run_batch | tee -a "$tmp/times" | awk '{printf "  run: %.1f s, peak %.0f MiB\n", $1, $2 / 1024}' >&2
done
rows=$(($(wc -l <"$tmp/runs/score_all/scores.csv") - 1))
sort -n "$tmp/times" | awk -v rows="$rows" -v n="$reps" '
    { t[NR] = $1; if ($2 > peak) peak = $2 }
    END {
        m = n % 2 ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2
        printf "experiment scoring pass: %d rows x 3 texts = %d pairs in %.1f s (median of %d): %.2f pairs/s, peak %.0f MiB\n",
            rows, rows * 3, m, n, rows * 3 / m, peak / 1024
    }'
echo "(each run includes starting aapmt, loading the random model and reading the images)"
