"""``--algo ferm``: FERM (:mod:`rrl.algos.ferm`) as an rrl run, with the same tasks, cameras, proprioception,
rewards, demonstrations, run folder, logs, checkpoints, ``--resume`` and ``rrl eval`` as every algorithm.

Stages, in the order :func:`rrl.train._run` calls them:

1. Warm-up (:meth:`FERMTrainer.behavior_clone`, the slot where the other algorithms clone the demonstrations;
   FERM does no behaviour cloning): the demonstrations' trajectories (frames re-rendered from their simulator
   states at the run's render size, rewards recomputed under the run's reward) fill the replay buffer first,
   the proprioception is normalised by their mean and std, then ``ferm_curl_updates`` CURL updates train the
   encoder on them.
2. Each iteration: ``trajectories`` episodes with the stochastic actor (acting on the centre crop), stored
   whole in the replay buffer, then ``sac_updates_per_sample`` FERM updates per new sample on random crops.
   FERM interleaves one update with every environment step; here the updates follow each iteration's episodes
   (at the ``paper`` preset's one trajectory per iteration, that is one episode of delay).

The sampler is rrl's pixel sampler with :class:`rrl.algos.ferm.FrameFlattener` as its encoder: the policy input
is the raw frames (at ``render_size``, uncropped) followed by the proprioception. The replay buffer holds uint8
frames, each once (:class:`rrl.algos.ferm.FrameReplay`). Every iteration's episodes are also written to
``replay/NNNNNN.npz`` (compressed) in the run folder; the checkpoint records each file's steps, a resumed run
reloads the files still in the buffer and rebuilds exactly the buffer it had, and files whose steps have all been
overwritten are deleted. The demonstrations' frames are re-rendered on resume (the checkpoint's demo fingerprint
refuses a resume where they differ).
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rrl.algos.ferm import FERMActor, FERMAgent, FERMConfig, FrameReplay, center_crop, split_observation
from rrl.checkpoint import parse_rng, set_rng, training_state
from rrl.config import TrainConfig
from rrl.paths import atomic_write
from rrl.sampling import DemoData, Sampler, TrajectoryBatch
from rrl.seeding import STREAM_BC, stream_seed
from rrl.train_sac import SACTrainer, demo_rewards, sac_config

REPLAY_DIR = "replay"  # one compressed file of episodes per iteration


def ferm_config(cfg: TrainConfig) -> FERMConfig:
    """The FERM settings of a run config (its SAC part: :func:`rrl.train_sac.sac_config`; FERM's agent has no BC
    term, so ``sac_bc_weight`` does not act on it)."""
    return FERMConfig(sac=sac_config(cfg), image_size=cfg.image_size, feature_dim=cfg.ferm_feature_dim,
                      encoder_tau=cfg.ferm_encoder_tau, curl_lr=cfg.sac_lr,
                      encoder_tanh=cfg.ferm_encoder_tanh,
                      curl_encoder_steps=cfg.ferm_curl_encoder_steps)  # fmt: skip


def frame_shape(cfg: TrainConfig) -> tuple[int, int, int]:
    """A FERM run's frame stack: ``(3 x cameras, render_size, render_size)``."""
    return (3 * len(cfg.cameras or cfg.task_spec.default_cameras), cfg.render_size, cfg.render_size)


class FERMPolicy(nn.Module):
    """The FERM actor as an rrl policy: takes the sampler's flat ``[frames, proprioception]`` rows, crops the frames
    to their centre and acts."""

    def __init__(self, actor: FERMActor, n_cameras: int, render_size: int, image_size: int) -> None:
        super().__init__()
        self.actor = actor
        self.n_cameras, self.render_size, self.image_size = n_cameras, render_size, image_size

    def numpy_actor(self) -> _FERMSnapshot:
        return _FERMSnapshot(copy.deepcopy(self).eval())

    @staticmethod
    def from_state(state: dict[str, torch.Tensor], cfg: TrainConfig) -> FERMPolicy:
        """The policy of a checkpoint of the FERM run ``cfg``."""
        from rrl.algos.ferm import ConvTrunk

        channels = frame_shape(cfg)[0]
        act_dim = state[f"actor.pi.net.{2 * len(cfg.policy_size)}.bias"].numel() // 2
        trunk = ConvTrunk(channels, cfg.image_size)
        actor = FERMActor(trunk, cfg.ferm_feature_dim, cfg.proprio_dim, act_dim, cfg.policy_size, cfg.sac_max_log_std,
                          cfg.sac_min_log_std, cfg.ferm_encoder_tanh)
        policy = FERMPolicy(actor, channels // 3, cfg.render_size, cfg.image_size)
        policy.load_state_dict(state)
        return policy


class _FERMSnapshot:
    """A frozen copy for one collection. The samplers call ``mean(x)`` and then ``sample(x, noise)`` on the same
    rows; the distribution of the last rows is kept so the encoder runs once per step."""

    def __init__(self, policy: FERMPolicy) -> None:
        self.policy = policy
        self.log_std = np.zeros(policy.actor.pi.act_dim)  # unused by samplers that call ``sample``
        self._last: tuple[np.ndarray, torch.Tensor, torch.Tensor] | None = None

    @torch.no_grad()
    def _distribution(self, obs: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        if self._last is not None and self._last[0] is obs:
            return self._last[1], self._last[2]
        p = self.policy
        frames, proprio = split_observation(obs, p.n_cameras, p.render_size)
        frames_t = center_crop(torch.from_numpy(frames), p.image_size)
        mu, log_std = p.actor.pi.distribution(p.actor.features(frames_t, torch.from_numpy(proprio)))
        self._last = (obs, mu, log_std)
        return mu, log_std

    def mean(self, obs: np.ndarray) -> np.ndarray:
        return torch.tanh(self._distribution(obs)[0]).numpy()

    def sample(self, obs: np.ndarray, noise: np.ndarray) -> np.ndarray:
        mu, log_std = self._distribution(obs)
        return torch.tanh(mu + log_std.exp() * torch.as_tensor(noise, dtype=torch.float32)).numpy()


class FERMTrainer(SACTrainer):
    """State of one FERM run (agent, frame buffers, counters); the interface :func:`rrl.train._run` drives. The
    iteration (collect, store, update, evaluate, log row) is :class:`rrl.train_sac.SACTrainer`'s."""

    def __init__(
        self, cfg: TrainConfig, sampler: Sampler, demos: DemoData | None, run_dir: Path, demo_set: Any = None
    ) -> None:
        self.cfg, self.sampler, self.demos, self.run_dir = cfg, sampler, demos, Path(run_dir)
        self.task = cfg.task_spec
        self.frame_shape = frame_shape(cfg)
        self.n_cameras = self.frame_shape[0] // 3
        proprio_dim, act_dim = sampler.obs_dim - int(np.prod(self.frame_shape)), sampler.act_dim
        if proprio_dim != cfg.proprio_dim:
            raise ValueError(
                f"the sampler gives {sampler.obs_dim} inputs, FERM expects {self.n_cameras} camera(s) of "
                f"{cfg.render_size}x{cfg.render_size} RGB frames and {cfg.proprio_dim} joints"
            )
        with torch.random.fork_rng(devices=[]):
            self.agent = FERMAgent(self.frame_shape[0], proprio_dim, act_dim, ferm_config(cfg), seed=cfg.seed)
        self.policy = FERMPolicy(self.agent.actor, self.n_cameras, cfg.render_size, cfg.image_size)
        self.buffer = FrameReplay(cfg.sac_buffer, self.frame_shape, proprio_dim, act_dim)
        self.demo_buffer: FrameReplay | None = None
        if demos is not None:
            if demo_set is None:
                raise ValueError("--algo ferm recomputes the demonstrations' rewards from their simulator states: "
                                 "give the demonstrations as a demo set (--demos)")  # fmt: skip
            trajectories = self._demo_trajectories(demo_set, demos)
            if cfg.sac_demo_fraction > 0:  # a buffer of their own, sampled at that share of every batch
                steps = sum(len(t[0]) for t in trajectories)
                self.demo_buffer = FrameReplay(max(steps, 2), self.frame_shape, proprio_dim, act_dim)
            for t in trajectories:  # otherwise they fill the replay buffer first (FERM)
                self.demo_source().add_trajectory(*t)
        self.chunk_steps: list[int] = []  # steps of replay/NNNNNN.npz, per iteration
        self.next_iteration = 0
        self.samples = 0
        self.baseline = None

    def _demo_trajectories(self, demo_set: Any, demos: DemoData) -> list[tuple[np.ndarray, ...]]:
        rewards = demo_rewards(self.cfg, demo_set)
        out, start = [], 0
        for traj, rew in zip(demo_set.trajectories, rewards):
            n = len(traj["actions"])
            frames, proprio = split_observation(demos.observations[start : start + n], self.n_cameras,
                                                self.cfg.render_size)  # fmt: skip
            act = np.clip(demos.actions[start : start + n], -1, 1)
            out.append((frames, proprio, act, np.append(rew, 0.0).astype(np.float32)))
            start += n
        if start != len(demos.observations):
            raise ValueError(f"the demo set has {start} steps but the demo inputs {len(demos.observations)}")
        return out

    # ---------------------------------------------------------------------------------------- warm-up
    def behavior_clone(self) -> dict[str, Any]:
        """Normalise the proprioception by the demonstrations, run FERM's CURL warm-up on the demo-filled buffer,
        then ``sac_offline_updates`` SAC updates on it (FERM's ``warmup_offline_sac``; FERM has no behaviour
        cloning)."""
        shutil.rmtree(self.run_dir / REPLAY_DIR, ignore_errors=True)  # a fresh start: not this run's episodes
        source = self.demo_source()
        if source is None or source.size == 0:
            return {"curl_losses": [], "demo_transitions": 0, "offline_critic_losses": []}
        proprio = torch.as_tensor(source.proprio[: source.size])
        std = proprio.std(0)
        self.agent.actor.p_shift.copy_(proprio.mean(0))
        self.agent.actor.p_scale.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))
        rng = np.random.default_rng(stream_seed(self.cfg.seed, 0, STREAM_BC))
        losses = [self.agent.update_curl(source.sample(self.cfg.sac_batch_size, rng)["frames"])
                  for _ in range(self.cfg.ferm_curl_updates)]  # fmt: skip
        return {"curl_losses": losses, "demo_transitions": int(source.has_next[: source.size].sum()),
                "offline_critic_losses": self._offline_updates()}  # fmt: skip

    # -------------------------------------------------------------------------------------- iteration
    def store(self, batch: TrajectoryBatch, k: int) -> None:
        """The iteration's episodes into the buffer and into ``replay/k.npz`` (written atomically)."""
        frames, proprio = split_observation(batch.observations, self.n_cameras, self.cfg.render_size)
        act, rew = np.clip(batch.actions, -1, 1).astype(np.float32), batch.rewards.astype(np.float32)
        lengths = np.asarray(batch.lengths, np.int64)
        self._add_episodes(frames, proprio, act, rew, lengths)
        arrays = dict(frames=frames, proprio=proprio, act=act, rew=rew, lengths=lengths)
        atomic_write(self._chunk(k), lambda f: np.savez_compressed(f, **arrays), binary=True)
        del self.chunk_steps[k:]
        self.chunk_steps.append(int(len(frames)))

    def _add_episodes(self, frames: np.ndarray, proprio: np.ndarray, act: np.ndarray, rew: np.ndarray,
                      lengths: np.ndarray) -> None:  # fmt: skip
        """Consecutive episodes of ``lengths`` steps into the replay buffer, each as one trajectory."""
        start = 0
        for n in lengths:
            sl = slice(start, start + int(n))
            self.buffer.add_trajectory(frames[sl], proprio[sl], act[sl], rew[sl])
            start += int(n)

    def _chunk(self, k: int) -> Path:
        return self.run_dir / REPLAY_DIR / f"{k:06d}.npz"

    def demo_source(self) -> FrameReplay | None:
        """The demonstrations' own buffer, or the replay buffer they filled first (FERM's way)."""
        if self.demos is None:
            return None
        return self.demo_buffer if self.demo_buffer is not None else self.buffer

    def prepare(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The minibatch as it is (frames are scaled by the encoder, proprioception by the actor)."""
        return batch

    # ------------------------------------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        # "baseline": the whole agent (critic encoder and heads, targets, CURL's W, temperature, optimisers)
        return training_state(self, baseline=self.agent.state_dict(), replay_chunk_steps=list(self.chunk_steps))

    def load_state_dict(self, state: dict[str, Any], adopt_demos: bool = False) -> None:
        if state.get("demo_fingerprint") != (self.demos.fingerprint() if self.demos is not None else None):
            raise ValueError("the demonstrations' frames differ from those the FERM run was trained with (another "
                             "renderer?); resume on the machine that started it, or start a new run")  # fmt: skip
        self.agent.load_state_dict(state["baseline"])
        self.policy.load_state_dict(state["policy"])
        steps = [int(s) for s in state.get("replay_chunk_steps", [])]
        next_iteration = int(state["next_iteration"])
        if len(steps) != next_iteration:
            raise ValueError(f"the checkpoint lists {len(steps)} replay files for {next_iteration} iterations")
        first = _first_needed(steps, self.buffer.capacity)
        missing = [self._chunk(k).name for k in range(first, len(steps)) if not self._chunk(k).is_file()]
        if missing:
            raise ValueError(f"{self.run_dir / REPLAY_DIR} lacks {missing[:3]} of the replay buffer the checkpoint "
                             "holds; restore the run folder from one copy")  # fmt: skip
        self.buffer.skip(sum(steps[:first]))
        for k in range(first, len(steps)):
            with np.load(self._chunk(k), allow_pickle=False) as z:
                frames, proprio, act, rew, lengths = (z[key] for key in ("frames", "proprio", "act", "rew", "lengths"))
            if frames.shape[1:] != self.frame_shape or len(frames) != steps[k] or lengths.sum() != steps[k]:
                raise ValueError(f"{self._chunk(k)} does not hold the {steps[k]} steps the checkpoint lists")
            self._add_episodes(frames, proprio, act, rew, lengths)
        for stale in (self.run_dir / REPLAY_DIR).glob("*.npz"):  # a killed iteration's episodes
            if stale.stem.isdigit() and int(stale.stem) >= next_iteration:
                stale.unlink()
        self.chunk_steps = steps
        self.next_iteration = next_iteration
        self.samples = int(state["samples"])
        set_rng(parse_rng(state["rng"]))

    def save_checkpoint(self) -> Path:
        path = super().save_checkpoint()
        for k in range(_first_needed(self.chunk_steps, self.buffer.capacity)):  # steps all overwritten since
            self._chunk(k).unlink(missing_ok=True)
        return path


def _first_needed(steps: list[int], capacity: int) -> int:
    """The first replay file whose steps may still be in a buffer of ``capacity`` steps after all of ``steps``
    were written in order (everything before it has been overwritten by at least ``capacity`` later steps)."""
    later = 0
    for k in range(len(steps) - 1, -1, -1):
        if later >= capacity:
            return k + 1
        later += steps[k]
    return 0


def replay_memory(cfg: TrainConfig, act_dim: int) -> int:
    """Bytes of the replay buffer of ``cfg`` at its capacity (``act_dim``: the task's action size)."""
    return cfg.sac_buffer * FrameReplay.bytes_per_step(frame_shape(cfg), cfg.proprio_dim, act_dim)


__all__ = ["FERMPolicy", "FERMTrainer", "REPLAY_DIR", "ferm_config", "replay_memory"]
