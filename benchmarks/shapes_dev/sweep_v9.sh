#!/usr/bin/env bash
# sweep_v9.txt on one GPU: the dev jobs, plain fidelity at 20/12/10/8 steps on the dev seeds, and the rule.
#   bash benchmarks/shapes_dev/sweep_v9.sh OUT STATES
# Writes OUT/dev.json ({job: [samples]}), OUT/dev.logs.txt, OUT/fidelity_dev.json and OUT/choice.txt.
set -uo pipefail
out=$1
states=$2
work=$(mktemp -d)
mkdir -p "$out"
python benchmarks/shapes_train/fidelity.py --weights ttom/assets/shapes --states "$states" --seeds 32 \
    --first-seed 100 --steps 20,12,10,8 --out "$out/fidelity_dev.json" > "$work/fidelity.log" 2>&1 &
python benchmarks/parallel.py --jobs benchmarks/shapes_dev/sweep_v9.txt --shards 3 --out "$work/dev" --deadline 420
wait
cp "$work/dev/results.json" "$out/dev.json"
tail -c 200000 "$work/dev/logs.txt" > "$out/dev.logs.txt"
cat "$work/fidelity.log"
python benchmarks/shapes_dev/sweep_v9_rule.py "$out/dev.json" "$out/fidelity_dev.json" | tee "$out/choice.txt"
