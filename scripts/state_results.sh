#!/usr/bin/env bash
# The result runs from state (paper hyper-parameters: 200 trajectories per iteration, (256, 256) policy, sparse
# reward unless noted). Resumable: re-running continues every run folder from its checkpoint, and a larger ITERS
# extends finished runs. Run folders go to runs/state/ (not committed); `rrl export bc_state dapg_state_door
# dapg_state_hammer dapg_state_pen_relocate dapg_state_door_human` exports their logs to results/ (the folders are
# declared in rrl.experiments.exports) and `rrl report` rebuilds docs/results.md.
#   bash scripts/state_results.sh [bc|dapg|npg|human|pen_relocate]...
# e.g. DAPG_TASKS=door DAPG_ITERS=25 bash scripts/state_results.sh dapg
set -uo pipefail
cd "$(dirname "$0")/.."
RRL=${RRL:-.venv/bin/rrl}
THREADS=${THREADS:-1}
run() {  # run OUT ITERS ARGS...
  local out=$1 iters=$2; shift 2
  if [[ -f "$out/checkpoint.pt" ]]; then
    $RRL train --resume "$out" --iterations "$iters" --no-progress
  else
    $RRL train "$@" --iterations "$iters" --threads "$THREADS" --out "$out" --no-progress
  fi
}
for part in "${@:-bc dapg npg human}"; do for p in $part; do case $p in
  bc)    for t in door hammer pen relocate; do run runs/state/bc_$t 1 --task $t --algo bc --demos expert --seed 0; done ;;
  dapg)  for t in ${DAPG_TASKS:-door hammer}; do for s in 0 1 2; do run runs/state/dapg_${t}_s$s ${DAPG_ITERS:-15} --task $t --algo dapg --demos expert --seed $s; done; done ;;
  npg)   run runs/state/npg_door_s0 ${NPG_ITERS:-20} --task door --algo npg --demos none --seed 0 ;;
  human) run runs/state/dapg_door_human_dense_s0 ${HUMAN_ITERS:-60} --task door --algo dapg --demos human --reward dense --policy-size 32,32 --demo-weight mjrl --seed 0
         run runs/state/dapg_door_human_sparse_s0 ${HUMAN_ITERS:-60} --task door --algo dapg --demos human --reward sparse --policy-size 32,32 --demo-weight mjrl --seed 0 ;;
  pen_relocate) for t in pen relocate; do run runs/state/dapg_${t}_s0 ${PR_ITERS:-10} --task $t --algo dapg --demos expert --seed 0 $( [[ $t == pen ]] && echo --trajectories 400 ); done ;;
  *) echo "unknown part $p" >&2; exit 2 ;;
esac; done; done
