#!/usr/bin/env bash
# Copy the logs of the result runs (runs/, not committed) into results/ and rebuild docs/results.md.
# Only groups whose run folders exist are exported; runs exported earlier whose folders are gone are kept
# (--keep-previous). Usage: bash scripts/export_results.sh
set -uo pipefail
cd "$(dirname "$0")/.."
RRL=${RRL:-.venv/bin/rrl}
# The runs given that exist: run folders with a log, or CSVs of an earlier export (as `rrl results` takes them).
have() {
  local out=""
  for r in "$@"; do [[ ( $r == *.csv && -f $r ) || -f $r/log.csv ]] && out+="${out:+,}$r"; done
  echo "$out"
}
export_group() {  # NAME TITLE NOTE LABEL=RUNS...
  local name=$1 title=$2 note=$3; shift 3
  local args=()
  for g in "$@"; do local runs=${g#*=}; [[ -n $runs ]] && args+=(--group "$g"); done
  [[ ${#args[@]} -gt 0 ]] && $RRL results "$name" --keep-previous --title "$title" --note "$note" "${args[@]}"
}
export_group bc_state "BC only from 25 expert demonstrations, from state" \
  "Row 0 of each run: the BC policy (paper Eq. 5) before any RL; 200 stochastic rollouts (pen 200 x 100 steps) and 25 deterministic evaluation episodes." \
  "door=$(have runs/state/bc_door)" "hammer=$(have runs/state/bc_hammer)" "pen=$(have runs/state/bc_pen)" "relocate=$(have runs/state/bc_relocate)"
for t in door hammer; do
  export_group dapg_state_$t "DAPG from state, $t (paper hyper-parameters, 25 expert demos, sparse reward)" \
    "Appendix 7.1 settings: 200 trajectories (40,000 samples) per iteration, (256, 256) policy, NPG step 0.05. Goal: >= 90% success." \
    "DAPG (state)=$(have runs/state/dapg_${t}_s0 runs/state/dapg_${t}_s1 runs/state/dapg_${t}_s2)" \
    "NPG (state, no demos)=$(have runs/state/npg_${t}_s0)"
done
export_group dapg_state_pen_relocate "DAPG from state, pen and relocate (paper hyper-parameters, 25 expert demos, sparse reward)" \
  "Appendix 7.1 settings: 40,000 samples per iteration (pen: 400 trajectories of 100 steps), (256, 256) policy; as many iterations as CPU time allowed (paper: 300)." \
  "pen=$(have runs/state/dapg_pen_s0)" "relocate=$(have runs/state/dapg_relocate_s0)"
export_group dapg_state_door_human "DAPG from state, door, 25 human demonstrations (the paper's setting)" \
  "Paper hyper-parameters except the (32, 32) policy and the mjrl demo weight (constant weight on normalised advantages), as in the issue's mjrl reference run; 200 trajectories per iteration. Goal (dense): >= 80% training success." \
  "dense reward=$(have runs/state/dapg_door_human_dense_s0)" \
  "sparse reward=$(have runs/state/dapg_door_human_sparse_s0)" \
  "sparse reward, initial action std 0.6=$(have runs/state/dapg_door_human_sparse_std06_s0)"
export_group rrl_pixels_door_human "RRL from pixels, door, 25 human demos, dense reward (cpu preset) vs DAPG from state" \
  "Both: the 25 human demonstrations, dense reward (sign-corrected), (32, 32) policy (the (256, 256) runs: the paper's appendix 7.1 policy), mjrl demo weight. Pixels: cpu preset (EfficientNet-Lite0, 146-px renders cropped to 128, top camera + 24 hand joints), 40 trajectories per iteration; state: 200 per iteration, and a state control with the pixel run's 40 per iteration (and its 10 evaluation episodes every 2 iterations). Compare at equal samples. Both seeds moved between this 2-core machine (onnxruntime, 4 envs) and the lent GPU boxes (EfficientNet-Lite0 in torch on CUDA, 8 envs); config.json's resumed_with records every move." \
  "RRL (pixels, cpu preset)=$(have runs/pixels/door_cpu_human_dense_s0 runs/pixels/door_cpu_human_dense_s1)" \
  "DAPG (state)=$(have runs/state/dapg_door_human_dense_s0)" \
  "DAPG (state, 40 trajectories per iteration)=$(have runs/state/dapg_door_human_dense_t40_s0 runs/state/dapg_door_human_dense_t40_s1)" \
  "RRL + arm joints (--proprio-arm)=$(have runs/pixels/door_cpu_human_dense_arm_s0)" \
  "RRL, top + fixed cameras=$(have runs/pixels/door_cpu_human_dense_2cam_s0)" \
  "RRL, (256, 256) policy (the paper's)=$(have runs/pixels/door_cpu_human_dense_p256_s0 runs/pixels/door_cpu_human_dense_p256_s1 runs/pixels/door_cpu_human_dense_p256_s2)" \
  "8x8 raw pixels (examples/rrl_pixels8) + hand joints=$(have runs/pixels/door_cpu_human_dense_px8_s0)" \
  "8x8 raw pixels, rendered at 37 px=$(have runs/pixels/door_cpu_human_dense_px8r32_s0 runs/pixels/door_cpu_human_dense_px8r32_s1)"
# One figure for issue 6 (a): the representations on human demos, runs of earlier exports (folders gone) + new ones.
H=results/rrl_pixels_door_human
export_group pixels_door_human "Door, 25 human demos, dense reward: which pixel representation keeps up with the state?" \
  "All: (32, 32) policy, mjrl demo weight, 40 trajectories (8,000 samples) per iteration, seeds 0 and 1. State: the 39-dim state vector. RRL: cpu preset (EfficientNet-Lite0 on 146-px renders cropped to 128, top camera) + 24 hand joints. 8x8 pixels: the frame averaged to 8x8 per channel (examples/rrl_pixels8, 192 features) + 24 hand joints, rendered at 37 px and cropped to 32 (--render-size 37 --image-size 32: this pipeline's cost is rendering, about 20 s per iteration alone here). Keypoints: cpu preset with --encoder rrl_keypoints:KeypointsS16 (EfficientNet-Lite0 to stage 5, then a spatial soft-argmax per channel: 224 image coordinates) + 24 hand joints. Runs marked 'from rrl_pixels_door_human' are read from that export." \
  "DAPG (state)=$(have $H/dapg_door_human_dense_t40_s0.csv $H/dapg_door_human_dense_t40_s1.csv)" \
  "RRL (EfficientNet-Lite0 features)=$(have $H/door_cpu_human_dense_s0.csv $H/door_cpu_human_dense_s1.csv)" \
  "8x8 pixels (rendered at 37 px)=$(have runs/pixels/door_cpu_human_dense_px8r32_s0 runs/pixels/door_cpu_human_dense_px8r32_s1)" \
  "keypoints (examples/rrl_keypoints, KeypointsS16)=$(have runs/pixels/door_cpu_human_dense_kp16_s1)"
export_group state_information_door_human "What does DAPG from state need? door, 25 human demos, dense reward, parts of the state hidden" \
  "All runs: the 25 human demonstrations, dense reward, (32, 32) policy, mjrl demo weight, 40 trajectories per iteration (the pixel runs' setting). State runs hide parts of the 39-dim state vector with --state-hide (TaskSpec.state_layout): no door height = handle_pos.z,palm_to_handle.z; no heights at all = arm_qpos,palm_pos.z,handle_pos.z,palm_to_handle.z; no arm or palm = arm_qpos,palm_pos,palm_to_handle (the handle position stays exact); arm + hand joints only = latch,door_hinge,palm_pos,handle_pos,palm_to_handle,door_open; hand joints only = all but the 24 hand joints (what the pixel policy gets besides the frames). The pixel runs (RRL, cpu preset, top camera) for reference." \
  "DAPG (state, all 39)=$(have runs/state/dapg_door_human_dense_t40_s0 runs/state/dapg_door_human_dense_t40_s1)" \
  "DAPG (state, no door height)=$(have runs/state/dapg_door_human_dense_t40_nodoorz_s0 runs/state/dapg_door_human_dense_t40_nodoorz_s1)" \
  "DAPG (state, no heights at all)=$(have runs/state/dapg_door_human_dense_t40_noz_s0 runs/state/dapg_door_human_dense_t40_noz_s1)" \
  "DAPG (state, no arm or palm)=$(have runs/state/dapg_door_human_dense_t40_noarm_s0 runs/state/dapg_door_human_dense_t40_noarm_s1)" \
  "DAPG (state, arm + hand joints only)=$(have runs/state/dapg_door_human_dense_t40_jointsonly_s0)" \
  "DAPG (state, hand joints only)=$(have runs/state/dapg_door_human_dense_t40_handonly_s0 runs/state/dapg_door_human_dense_t40_handonly_s1)" \
  "RRL (pixels + hand joints, cpu preset)=$(have runs/pixels/door_cpu_human_dense_s0 runs/pixels/door_cpu_human_dense_s1)"
export_group state_precision_door_human "How precisely must DAPG from state know where the hand and the handle are? door, 25 human demos, dense reward" \
  "Settings of state_information_door_human. Every state variant sees the hand joints, the latch, the door hinge, door_open and the horizontal (x, y) positions of the palm and the handle, with (--state-hide arm_qpos,palm_pos.z,handle_pos.z,palm_to_handle.z) or without (--state-hide arm_qpos,palm_pos.z,handle_pos.z,palm_to_handle) the palm-to-handle vector. The noisy ones read those numbers with an error drawn once per episode (--state-noise palm_pos.x=0.035,palm_pos.y=0.022,handle_pos.x=0.009,handle_pos.y=0.007, metres: the RMSE with which a linear probe reads them from the cpu preset's top-camera features, results/feature_probe_door_palm; palm_to_handle.x=0.036,palm_to_handle.y=0.023, the two combined). The demonstrations stay exact. The pixel runs for reference." \
  "DAPG (state, x/y incl. palm-to-handle)=$(have runs/state/dapg_door_human_dense_t40_noz_s0 runs/state/dapg_door_human_dense_t40_noz_s1)" \
  "DAPG (state, x/y incl. palm-to-handle, features' error)=$(have runs/state/dapg_door_human_dense_t40_noz_noisy_s0 runs/state/dapg_door_human_dense_t40_noz_noisy_s1)" \
  "DAPG (state, x/y of palm and handle)=$(have runs/state/dapg_door_human_dense_t40_xy_s0 runs/state/dapg_door_human_dense_t40_xy_s1)" \
  "DAPG (state, x/y of palm and handle, features' error)=$(have runs/state/dapg_door_human_dense_t40_xy_noisy_s0 runs/state/dapg_door_human_dense_t40_xy_noisy_s1)" \
  "RRL (pixels + hand joints, cpu preset)=$(have runs/pixels/door_cpu_human_dense_s0 runs/pixels/door_cpu_human_dense_s1)"
# Issue 6 (a), session 13: the state's information in the form of pooled features (--state-embed), and the batch size.
S=results/state_information_door_human
export_group state_form_door_human "DAPG from state given as random features, door, 25 human demos, dense reward, 40 trajectories per iteration" \
  "All: (32, 32) policy, mjrl demo weight, 40 trajectories (8,000 samples) per iteration. Random features: --state-embed N replaces the 39-dim state by N fixed random ReLU features of it (rrl.sampling.RandomStateFeatures, standardised by the demonstrations, seeded by the run seed), + hand joints = --state-embed-keep hand_qpos (as a pixel policy sees them), state + random features = --state-embed-keep with every part. The state runs marked 'from state_information_door_human' ran in session 9 on another machine; the same command and seed on this machine (session 13) gives different numbers from the first iteration on (float rounding) and a different run." \
  "DAPG (state, session 9 machine)=$(have $S/dapg_door_human_dense_t40_s0.csv $S/dapg_door_human_dense_t40_s1.csv)" \
  "DAPG (state, this machine)=$(have runs/state/dapg_door_human_dense_t40_plainrerun_s1)" \
  "random features (1280) + hand joints=$(have runs/state/dapg_door_human_dense_t40_emb1280_s0 runs/state/dapg_door_human_dense_t40_emb1280_s1)" \
  "state + random features (1280)=$(have runs/state/dapg_door_human_dense_t40_emb1280keepall_s1)" \
  "random features (64) + hand joints=$(have runs/state/dapg_door_human_dense_t40_emb64_s1)"
export_group state_form_door_human_t200 "State vs random features of it, 200 trajectories per iteration (door, human demos, dense)" \
  "Settings of state_form_door_human but 200 trajectories (40,000 samples) per iteration, 40 iterations (1.6M samples), evaluation every iteration; state seed 2 stopped at 24 iterations (0.96M) in session 13 and was resumed to 40 in session 15; state + random features seed 0 ran in session 15 (--feature-scale-floor 0, as the session-13 embedding had no floor). The state run of 2026-11-25 with the same settings (another machine) for reference." \
  "DAPG (state)=$(have runs/state/dapg_door_human_dense_t200_state_s0 runs/state/dapg_door_human_dense_t200_state_s1 runs/state/dapg_door_human_dense_t200_state_s2)" \
  "random features (1280) + hand joints=$(have runs/state/dapg_door_human_dense_t200_emb1280_s0 runs/state/dapg_door_human_dense_t200_emb1280_s1 runs/state/dapg_door_human_dense_t200_emb1280_s2)" \
  "state + random features (1280)=$(have runs/state/dapg_door_human_dense_t200_emb1280keepall_s0 runs/state/dapg_door_human_dense_t200_emb1280keepall_s1)" \
  "DAPG (state, earlier machine)=$(have results/rrl_pixels_door_human/dapg_door_human_dense_s0.csv)"
export_group input_form_door_human_t200 "Random features of the state at 200 trajectories per iteration: outliers and input PCA (session 14)" \
  "Settings of state_form_door_human_t200 (door, 25 human demos, dense reward, (32, 32) policy, mjrl demo weight, 200 trajectories per iteration, 40 iterations). 1280 random ReLU features of the state + the 24 hand joints; floor: the feature scale floor (0.1 x the median demo feature std) applied to the embedding (rrl >= 3d8b89b; the session-13 runs and the PCA 64 runs had none); PCA K: --input-pca K (the first layer sees K whitened principal components of the features, fitted on the demos). The state runs of session 13 for reference." \
  "DAPG (state)=$(have runs/state/dapg_door_human_dense_t200_state_s0 runs/state/dapg_door_human_dense_t200_state_s1 runs/state/dapg_door_human_dense_t200_state_s2)" \
  "random features, no floor=$(have runs/state/dapg_door_human_dense_t200_emb1280_s0 runs/state/dapg_door_human_dense_t200_emb1280_s1 runs/state/dapg_door_human_dense_t200_emb1280_s2)" \
  "random features, floor=$(have runs/state/dapg_door_human_dense_t200_emb1280fl_s0 runs/state/dapg_door_human_dense_t200_emb1280fl_s1)" \
  "random features, no floor, PCA 64=$(have runs/state/dapg_door_human_dense_t200_emb1280pca64_s0 runs/state/dapg_door_human_dense_t200_emb1280pca64_s1)" \
  "random features, floor, PCA 16=$(have runs/state/dapg_door_human_dense_t200_emb1280pca16_s0 runs/state/dapg_door_human_dense_t200_emb1280pca16_s1 runs/state/dapg_door_human_dense_t200_emb1280pca16_s2)"
export_group critic_door_human_t200 "Random features of the state at 200 trajectories per iteration with a privileged critic (session 15)" \
  "Settings of state_form_door_human_t200 (door, 25 human demos, dense reward, (32, 32) policy, mjrl demo weight, 200 trajectories per iteration, 40 iterations). The policy sees 1280 random ReLU features of the state + the 24 hand joints (feature scale floor on); state critic: --critic-input state (the value baseline sees the 39-dim state). The state runs and the floor runs without the critic for reference." \
  "DAPG (state)=$(have runs/state/dapg_door_human_dense_t200_state_s0 runs/state/dapg_door_human_dense_t200_state_s1 runs/state/dapg_door_human_dense_t200_state_s2)" \
  "random features, floor=$(have runs/state/dapg_door_human_dense_t200_emb1280fl_s0 runs/state/dapg_door_human_dense_t200_emb1280fl_s1)" \
  "random features, floor, state critic=$(have runs/state/dapg_door_human_dense_t200_emb1280flcs_s0 runs/state/dapg_door_human_dense_t200_emb1280flcs_s1)"
# Sessions 17-18: damping + the Fisher step norm on the random features (session-16 runs were lost with their machine).
I=results/input_form_door_human_t200
export_group damping_door_human_t200 "Random features of the state at 200 trajectories per iteration: a ridge on the natural gradient (sessions 17-18)" \
  "Settings of input_form_door_human_t200 (door, 25 human demos, dense reward, (32, 32) policy, mjrl demo weight, 200 trajectories per iteration, 40 iterations). The policy sees 1280 random ReLU features of the state + the 24 hand joints, feature scale floor on. Paper step: cg_damping 1e-4 and Eq. 6's g^T x step norm (runs of input_form_door_human_t200, session 14; session 18 reran seeds 0 and 2 on the machine of the damping runs); damping 10: --cg-damping 10; + Fisher norm: --step-norm fisher (the step scaled by x^T F x, so its KL stays at the target). The state runs (paper step) for reference. A run with fewer than 40 iterations was stopped when its session ended (resumable with rrl train --resume)." \
  "DAPG (state)=$(have $I/dapg_door_human_dense_t200_state_s0.csv $I/dapg_door_human_dense_t200_state_s1.csv $I/dapg_door_human_dense_t200_state_s2.csv)" \
  "random features, paper step=$(have $I/dapg_door_human_dense_t200_emb1280fl_s0.csv $I/dapg_door_human_dense_t200_emb1280fl_s1.csv)" \
  "random features, paper step (sessions 18-19)=$(have runs/state/dapg_door_human_dense_t200_emb1280flp_s0 runs/state/dapg_door_human_dense_t200_emb1280flp_s1 runs/state/dapg_door_human_dense_t200_emb1280flp_s2)" \
  "DAPG (state), paper step (session 19)=$(have runs/state/dapg_door_human_dense_t200_statep_s0 runs/state/dapg_door_human_dense_t200_statep_s1 runs/state/dapg_door_human_dense_t200_statep_s2)" \
  "random features, damping 10=$(have runs/state/dapg_door_human_dense_t200_emb1280fld10_s0)" \
  "random features, damping 10 + Fisher norm=$(have runs/state/dapg_door_human_dense_t200_emb1280fld10f_s0 runs/state/dapg_door_human_dense_t200_emb1280fld10f_s1 runs/state/dapg_door_human_dense_t200_emb1280fld10f_s2)" \
  "DAPG (state), damping 10 + Fisher norm=$(have runs/state/dapg_door_human_dense_t200_statefd10_s0)" \
  "random features, damping 1 + Fisher norm=$(have runs/state/dapg_door_human_dense_t200_emb1280fld1f_s0 runs/state/dapg_door_human_dense_t200_emb1280fld1f_s1 runs/state/dapg_door_human_dense_t200_emb1280fld1f_s2)" \
  "DAPG (state), damping 1 + Fisher norm=$(have runs/state/dapg_door_human_dense_t200_statefd1_s0 runs/state/dapg_door_human_dense_t200_statefd1_s1 runs/state/dapg_door_human_dense_t200_statefd1_s2)"
# Session 19: the first policy layer frozen at its BC weights during RL (--rl-frozen-layers 1).
export_group frozen_door_human_t200 "Random features of the state at 200 trajectories per iteration: the first layer frozen at BC (session 19)" \
  "Settings of damping_door_human_t200 (door, 25 human demos, dense reward, (32, 32) policy, mjrl demo weight, 200 trajectories per iteration, 40 iterations, paper step). Frozen: --rl-frozen-layers 1 (the first layer keeps its BC weights; the natural gradient of the other parameters). All runs on one machine (sessions 18-20). A run with fewer than 40 iterations was stopped when its session ended (resumable with rrl train --resume)." \
  "random features + hand joints, paper step=$(have runs/state/dapg_door_human_dense_t200_emb1280flp_s0 runs/state/dapg_door_human_dense_t200_emb1280flp_s1 runs/state/dapg_door_human_dense_t200_emb1280flp_s2)" \
  "random features + hand joints, first layer frozen=$(have runs/state/dapg_door_human_dense_t200_emb1280flfz1_s0 runs/state/dapg_door_human_dense_t200_emb1280flfz1_s1 runs/state/dapg_door_human_dense_t200_emb1280flfz1_s2)" \
  "DAPG (state), paper step=$(have runs/state/dapg_door_human_dense_t200_statep_s0 runs/state/dapg_door_human_dense_t200_statep_s1 runs/state/dapg_door_human_dense_t200_statep_s2)" \
  "DAPG (state), first layer frozen=$(have runs/state/dapg_door_human_dense_t200_statefz1_s0 runs/state/dapg_door_human_dense_t200_statefz1_s1 runs/state/dapg_door_human_dense_t200_statefz1_s2)"
# Session 20: RRL from pixels (cpu preset features) at 200 trajectories per iteration, the first layer frozen.
export_group pixels_door_human_t200 "RRL from pixels at 200 trajectories per iteration: the first layer frozen at BC (session 20) and the paper's step (session 21)" \
  "cpu preset (EfficientNet-Lite0 on 146-px renders cropped to 128, top camera, + 24 hand joints) with --trajectories 200, with and without --rl-frozen-layers 1; door, 25 human demos, dense reward, (32, 32) policy, mjrl demo weight, evaluation every 2 iterations. About 10-12 min per iteration on this 2-core machine, so the run continues across sessions (rrl train --resume); a run with fewer than 40 iterations is unfinished. The random-feature and state runs of frozen_door_human_t200 for reference (same settings, same machine)." \
  "RRL pixels + hand joints, first layer frozen=$(have runs/pixels/door_cpu_human_dense_t200_fz1_s0)" \
  "RRL pixels + hand joints, paper step=$(have runs/pixels/door_cpu_human_dense_t200_s0)" \
  "random features + hand joints, first layer frozen=$(have runs/state/dapg_door_human_dense_t200_emb1280flfz1_s0 runs/state/dapg_door_human_dense_t200_emb1280flfz1_s1 runs/state/dapg_door_human_dense_t200_emb1280flfz1_s2)" \
  "DAPG (state), paper step=$(have runs/state/dapg_door_human_dense_t200_statep_s0 runs/state/dapg_door_human_dense_t200_statep_s1 runs/state/dapg_door_human_dense_t200_statep_s2)" \
  "DAPG (state), first layer frozen=$(have runs/state/dapg_door_human_dense_t200_statefz1_s0 runs/state/dapg_door_human_dense_t200_statefz1_s1 runs/state/dapg_door_human_dense_t200_statefz1_s2)"
export_group pixels8_door_human_t200 "8x8 pixels at 200 trajectories per iteration: plain and input PCA (session 14), damping 10 + Fisher step norm (session 17)" \
  "examples/rrl_pixels8 (37-px renders cropped to 32, 8x8 pixels) + 24 hand joints, cpu preset otherwise; door, 25 human demos, dense reward, (32, 32) policy, mjrl demo weight, 200 trajectories per iteration; damping + Fisher norm: --cg-damping 10 --step-norm fisher. Stopped when the session ended (resumable with rrl train --resume). The state runs at the same batch for reference." \
  "8x8 pixels=$(have runs/pixels/door_cpu_human_dense_px8r32_t200_plain_s0)" \
  "8x8 pixels, PCA 16=$(have runs/pixels/door_cpu_human_dense_px8r32_t200_pca16_s0)" \
  "8x8 pixels, damping 10 + Fisher norm=$(have runs/pixels/door_cpu_human_dense_px8r32_t200_d10f_s0)" \
  "DAPG (state)=$(have runs/state/dapg_door_human_dense_t200_state_s0 runs/state/dapg_door_human_dense_t200_state_s1 runs/state/dapg_door_human_dense_t200_state_s2)"
export_group rrl_pixels_door_expert "RRL from pixels, door, 25 expert demos (cpu preset) vs DAPG from state" \
  "cpu preset: EfficientNet-Lite0, 146-px renders cropped to 128, top camera + 24 hand joints, 40 trajectories per iteration. Seeds 1 and 2 ran on this 2-core machine (onnxruntime); seed 0 on the lent GPU box (the same preset with the encoder in torch on CUDA and 8 envs; config.json records it). Goal: >= 80% stochastic training success." \
  "RRL (pixels, cpu preset)=$(have runs/pixels/door_cpu_expert_s0 runs/pixels/door_cpu_expert_s1 runs/pixels/door_cpu_expert_s2)" \
  "DAPG (state, paper scale)=$(have runs/state/dapg_door_s0 runs/state/dapg_door_s1 runs/state/dapg_door_s2)"
# The paper's ablations run at cpu scale on door, seeds 1 and 2 where run, 25 iterations (the RRL baseline of each
# is a copy of runs/pixels/door_cpu_expert_s<seed>, the same configuration); --export-only trains nothing.
for e in proprioception rewards policy_size representations; do
  $RRL experiment $e --task door --scale cpu --seeds 1,2 --iterations 25 --export-only
done
# Fig. 9: relocate, one camera versus three (seeds 1 and 2, 25 iterations; started on the lent GPU boxes, see notes).
$RRL experiment relocate_cameras --task relocate --scale cpu --seeds 1,2 --iterations 25 --export-only
# Not in the paper: 8x8 raw pixels against RRL's features (a user-defined experiment, docs/extending.md).
PYTHONPATH=examples/rrl_pixels8 ${PYTHON:-.venv/bin/python} examples/pixels8_experiment.py --scale cpu --seeds 1,2 --export-only
$RRL report
