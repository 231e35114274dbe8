#!/usr/bin/env bash
# The instance-term sweep on two GPUs, its rule, and (if a candidate wins) the test split, in one call:
#   bash benchmarks/shapes_dev/sweep_v5.sh OUT
# Writes OUT/dev.json, OUT/choice.txt and, when a candidate won, OUT/test.json ({job: [samples]}).
set -euo pipefail
out=$1
dev=benchmarks/shapes_dev/sweep_v5.txt
test=benchmarks/shapes_test/instance_jobs.txt
work=$(mktemp -d)
mkdir -p "$out"

# jobs split across the two GPUs; each half is run by benchmarks/parallel.py, then the halves joined
halves() {  # FILE: writes $work/a.txt (the first N job lines) and $work/b.txt (the rest)
    grep -v '^#' "$1" | grep . > "$work/all.txt"
    head -n "$2" "$work/all.txt" > "$work/a.txt"
    tail -n +"$(( $2 + 1 ))" "$work/all.txt" > "$work/b.txt"
}
run_both() {  # NAME DEADLINE
    for g in 0 1; do
        half=$([ $g = 0 ] && echo a || echo b)
        CUDA_VISIBLE_DEVICES=$g python benchmarks/parallel.py --jobs "$work/$half.txt" --shards 5 \
            --out "$work/$1$g" --work "$work/shards$1$g" --deadline "$2" &
    done
    wait
    python -c "import json,sys; json.dump({**json.load(open(sys.argv[1])), **json.load(open(sys.argv[2]))}, open(sys.argv[3], 'w'))" \
        "$work/${1}0/results.json" "$work/${1}1/results.json" "$out/$1.json"
    cat "$work/${1}0/logs.txt" "$work/${1}1/logs.txt" > "$out/$1.logs.txt"
}

halves "$dev" 6
run_both dev 330
python benchmarks/choose_recipe.py "$out/dev.json" --candidates tto,iw1,iw3,iw10,iw3p9 --current tto \
    --margin 12 --max-iterations-ratio 1.3 | tee "$out/choice.txt"
winner=$(tail -n 1 "$out/choice.txt")
if [ "$winner" = tto ]; then
    echo "the shipped recipe stays: no test run"
    exit 0
fi
flags=$(grep "^$winner:" "$dev" | sed 's/.*--conditions tto//')
{ cat "$test"; echo "$winner: shapes -n 40 --split test --conditions tto$flags"
  echo "o$winner: shapes -n 40 --split test --conditions tto$flags --conditioning objects"; } > "$work/test.txt"
halves "$work/test.txt" 4
run_both test 200
