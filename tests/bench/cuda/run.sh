#!/bin/sh
# On a lent GPU machine (after tests/bench/cuda/prepare.sh here): the backend
# parity test, the CUDA test, then ImageReward-v1.0 scoring and training on
# this card for aapmt (f32 and bf16 matmuls) and PyTorch (eager FP32, BF16
# autocast with SDPA), and a table of the figures with the ratios last.
# Logs go to $OUT (or ./cuda-logs). ratio = PyTorch time / aapmt time.
set -u
repo=$(cd "$(dirname "$0")/../../.." && pwd)
out=${OUT:-$repo/cuda-logs}
mkdir -p "$out"
export LD_LIBRARY_PATH="$repo/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bin=$repo/.device/bin
python=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.txt" 2>&1

status=0
for t in test_cuda_parity test_cuda; do
    if AAPMT_FIXTURES="$repo/tests/fixtures" "$bin/$t" > "$out/$t.log" 2>&1; then echo "$t: passed"; else status=1; echo "$t: FAILED ($out/$t.log)"; tail -20 "$out/$t.log"; fi
done
"$bin/aapmt_bench_cuda" --precision bf16 > "$out/aapmt_bf16.txt" 2>&1 || { status=1; tail -5 "$out/aapmt_bf16.txt"; }
"$bin/aapmt_bench_cuda" --precision f32 --batches 1,64 > "$out/aapmt_f32.txt" 2>&1 || { status=1; tail -5 "$out/aapmt_f32.txt"; }
"$python" "$repo/tests/bench/cuda/torch_cuda.py" > "$out/torch.txt" 2>&1 || { status=1; tail -5 "$out/torch.txt"; }

echo
cat "$out/gpu.txt"
echo "figure           aapmt ms   PyTorch ms  ratio   (aapmt bf16 vs PyTorch bf16+SDPA; aapmt f32 vs eager FP32)"
for what in score_b1 score_b256 train_b32; do
    for pair in "bf16:bf16_sdpa" "f32:eager_fp32"; do
        ours=$(awk -v w="$what" '$1 == w {print $3}' "$out/aapmt_${pair%%:*}.txt")
        theirs=$(awk -v w="${pair#*:}:$what" '$1 == w {print $3}' "$out/torch.txt")
        [ -n "$ours" ] && [ -n "$theirs" ] &&
            awk -v w="$what ${pair%%:*}" -v a="$ours" -v b="$theirs" 'BEGIN {printf "%-16s %9.2f  %10.2f  %5.2f\n", w, a, b, b / a}'
    done
done
grep -h "img/s\|peak" "$out/aapmt_bf16.txt" "$out/aapmt_f32.txt" "$out/torch.txt"
exit $status
