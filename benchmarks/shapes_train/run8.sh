#!/usr/bin/env bash
# Training run 8: two v6 candidates trained from v5 (commit ec0f25d) with fewer full captions, side by side
# (one a GPU), then the dev split of both, the README gate on the 2-core CPU, the choice, and the test split
# of the chosen one in two draws; two H200s (TTOM_MINILM_STATES: the states file):
#   git checkout ec0f25d -- ttom/assets/shapes/diffusion_pytorch_model.safetensors   # v5 in the working tree
#   bash benchmarks/shapes_train/run8.sh train OUT 5.5    # A and B, fidelity; both kept in /tmp/run8 on the machine
#   (planned at 6.5 minutes; that run's candidates were lost with the repo folder's untracked files between two
#   calls, and 5.5 lets train and dev share one call)
#   bash benchmarks/shapes_train/run8.sh dev OUT          # both candidates' dev split, A on GPU 0, B on GPU 1
#   python benchmarks/shapes_train/readme_gate.py --weights A --out gate_A.json --stop-on-seed0   # this CPU, idle
#   bash benchmarks/shapes_train/run8.sh test OUT         # the chosen weights in ttom/assets/shapes
#   bash benchmarks/shapes_train/run8.sh draw OUT 0       # or one draw at a time on a one-GPU machine (and 1)
#
# Why: v5 (v4 + 4,812 steps at full-caption share 0.2) moved objects without their motion words in 50% of
# test videos (v4: 30%), but its plain model got better at what it is told (test plain 89 against v4's 79)
# while TTO stayed, so the ratio fell to 1.20x. The testbed is meant to follow compositions weakly by itself
# (docs/shapes.md: layout words in a share of the compositional captions). Run 8 continues v5 with that share
# lowered: A 0.1, B 0.05; lr 1.5e-4 (v5's), seeds 9 and 10.
#
# Rule, fixed before the run:
#   1. a candidate is out if its fidelity on seeds 100-131 is below 95% (365/384);
#   2. a candidate is out if it fails the README gate (readme_gate.py: seed 0 accepted, >= 8 of seeds 0-9
#      accepted; the wall times are recorded, not gated: today's CPU runs v4's seed 0 in 91 s, yesterday's in 33 s);
#   3. of the rest, the one with the higher dev ratio (tto / plain, full captions, 200 prompts) is chosen
#      (a tie: more dev otto successes, then A); it ships as v6 if its dev ratio is above v4's 1.25
#      (120/96, sweep_v5_results.json) and its dev otto successes are not below v4's 93;
#   4. only then the test split runs, in two draws (--seed 0 and --seed 1: 400 prompts, both conditionings).
#      The measures are named now: the ratio and its sign test over the 400 prompts (full captions), each
#      category over both draws, motion on object captions over 80 prompts, fidelity on seeds 0-31.
# Predictions:
#   fidelity (seeds 100-131): A 95-98%, B 94-98%;
#   dev, full captions: plain A 80-95, B 72-92; tto A 108-125, B 105-125; ratio A 1.2-1.45, B 1.25-1.55;
#   dev otto A 88-105, B 85-105;
#   README gate: seed 0 accepted by at least one candidate; each accepts 8-10 of 10;
#   a candidate ships;
#   test, 400 prompts: plain 140-175, TTO 205-250, ratio 1.35-1.65, p < 0.001; numeracy TTO - plain -8..+4;
#   motion on object captions 30-45 of 80 (38-56%).
# train writes OUT/run8_logs.tgz, OUT/A.safetensors, OUT/B.safetensors (config: v5's) and OUT/fidelity.txt; dev writes
# OUT/dev_A.json, OUT/dev_B.json; test writes OUT/test_seed0.json, OUT/test_seed1.json.
set -euo pipefail
phase=$1
out=$2
mkdir -p "$out" /tmp/run8

fit() {  # GPU NAME MINUTES SHARE LR SEED
    CUDA_VISIBLE_DEVICES=$1 python -m ttom.shapes.train fit --states "$TTOM_MINILM_STATES" --resume ttom/assets/shapes \
        --out "/tmp/run8/$2" --minutes "$3" --batch 128 --full-captions "$4" --lr "$5" --workers 8 --compile --seed "$6" \
        > "/tmp/run8/run8$2.log" 2>&1
    CUDA_VISIBLE_DEVICES=$1 python benchmarks/shapes_train/fidelity.py --weights "/tmp/run8/$2" \
        --states "$TTOM_MINILM_STATES" --seeds 32 --first-seed 100 --out "/tmp/run8/fidelity_run8$2_seeds100.json" \
        > "/tmp/run8/fidelity_run8$2.log" 2>&1
}
split() {  # GPU TREE SEED NAME SPLIT: plain, oplain, tto, otto at 40 a category on one GPU, run from TREE
    local jobs
    jobs=$(mktemp)
    printf '%s\n' "plain: shapes -n 40 --split $5 --seed $3 --conditions plain" \
        "oplain: shapes -n 40 --split $5 --seed $3 --conditions plain --conditioning objects" \
        "tto: shapes -n 40 --split $5 --seed $3 --conditions tto" \
        "otto: shapes -n 40 --split $5 --seed $3 --conditions tto --conditioning objects" > "$jobs"
    (cd "$2" && CUDA_VISIBLE_DEVICES=$1 PYTHONPATH="/tmp/site:$2" python "$OLDPWD/benchmarks/parallel.py" \
        --jobs "$jobs" --shards 8 --out "$2/r_$4" --deadline 420 > "$2/r_$4.log" 2>&1)
    cp "$2/r_$4/results.json" "$out/$4.json"
}
tree() {  # NAME WEIGHTS: /tmp/treeNAME, a copy of the package with these weights (two models side by side)
    rm -rf "/tmp/tree$1" && mkdir -p "/tmp/tree$1" && cp -r ttom "/tmp/tree$1/"
    cp "$2/config.json" "$2/diffusion_pytorch_model.safetensors" "/tmp/tree$1/ttom/assets/shapes/"
}

case "$phase" in
train)  # the candidates' full-caption share, lr and seed: run 8's unless A=... B=... say otherwise (run 9)
    read -r -a a <<< "${A:-0.1 1.5e-4 9}"
    read -r -a b <<< "${B:-0.05 1.5e-4 10}"
    fit 0 A "$3" "${a[@]}" &
    fit 1 B "$3" "${b[@]}" &
    wait
    ok() { python -c "import json,sys; print(json.load(open(sys.argv[1]))['summary']['ok'])" "$1"; }
    echo "fidelity seeds 100-131: A $(ok /tmp/run8/fidelity_run8A_seeds100.json)/384, B $(ok /tmp/run8/fidelity_run8B_seeds100.json)/384" \
        | tee "$out/fidelity.txt"
    tar czf "$out/run8_logs.tgz" -C /tmp/run8 run8A.log run8B.log fidelity_run8A_seeds100.json \
        fidelity_run8B_seeds100.json fidelity_run8A.log fidelity_run8B.log A/train_log.json B/train_log.json
    for c in A B; do cp "/tmp/run8/$c/diffusion_pytorch_model.safetensors" "$out/$c.safetensors"; done
    ;;
dev)
    tree A /tmp/run8/A
    tree B /tmp/run8/B
    split 0 /tmp/treeA 0 dev_A dev &
    split 1 /tmp/treeB 0 dev_B dev &
    wait
    ;;
test)
    tree T ttom/assets/shapes
    split 0 /tmp/treeT 0 test_seed0 test &
    split 1 /tmp/treeT 1 test_seed1 test &
    wait
    ;;
draw)  # one of test's two draws on one GPU (a one-GPU machine): draw OUT SEED
    tree T ttom/assets/shapes
    split 0 /tmp/treeT "$3" "test_seed$3" test
    ;;
*)
    echo "usage: run8.sh train OUT MINUTES | dev OUT | test OUT | draw OUT SEED" >&2
    exit 2
    ;;
esac
