"""The pipelined pixel sampler: same batches as the plain vector-env sampler, local and Ray backends agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rrl.envs import EnvConfig, env_fn
from rrl.policy import GaussianMLP
from rrl.sampling import VectorEnvSampler
from rrl.sampling.pipelined import PipelinedSampler, PipelinedSamplerConfig, VisualFeaturizer, naive_rollout

CFG = EnvConfig(task="door", obs_mode="rgb+proprio", render_size=48, crop_size=40, horizon=12)


class PoolEncoder:
    """A tiny deterministic 'encoder': 2x2 average pooling of each colour channel (12 features per view)."""

    feature_dim = 12

    def encode_views(self, pixels: np.ndarray) -> np.ndarray:
        n, v, h, w, c = pixels.shape
        pooled = pixels.reshape(n, v, 2, h // 2, 2, w // 2, c).mean(axis=(3, 5), dtype=np.float64)
        return (pooled.reshape(n, v * 12) / 255.0).astype(np.float32)


def _policy(obs_dim: int) -> GaussianMLP:
    torch.manual_seed(0)
    return GaussianMLP(obs_dim, 28, (16, 16), init_log_std=-1.0)


@pytest.fixture(scope="module")
def featurizer():
    return VisualFeaturizer(PoolEncoder(), n_cameras=1, proprio_dim=24)


def test_pipelined_matches_vector_env_sampler(featurizer):
    policy = _policy(featurizer.obs_dim)
    with PipelinedSampler(CFG, featurizer, PipelinedSamplerConfig(n_envs=4, n_groups=2)) as sampler:
        assert sampler.obs_dim == 36 and sampler.act_dim == 28
        ours = sampler.collect(policy, 5, seed=3)
    with VectorEnvSampler(env_fn(CFG), workers=2, featurizer=featurizer) as plain:
        ref = plain.collect(policy, 5, seed=3)
    assert ours.n_trajectories == 5 and ours.n_samples == 5 * 12
    np.testing.assert_array_equal(ours.seeds, ref.seeds)
    np.testing.assert_array_equal(ours.timesteps, ref.timesteps)
    np.testing.assert_array_equal(ours.lengths, ref.lengths)
    # Same env seeds, noise streams and numpy policy snapshot (row by row): the batches are identical.
    np.testing.assert_array_equal(ours.observations, ref.observations)
    np.testing.assert_array_equal(ours.actions, ref.actions)
    np.testing.assert_array_equal(ours.log_probs, ref.log_probs)
    np.testing.assert_array_equal(ours.successes, ref.successes)


def test_privileged_state_rides_along_with_the_frames(featurizer):
    """``include_state`` + ``StateFromObservation``: each sample's critic input is the env state of the frame the
    policy saw (its hand joints are the proprioception of the same row), and recording it changes nothing else."""
    import dataclasses

    from rrl.sampling.pipelined import StateFromObservation
    from rrl.tasks import get_task

    policy = _policy(featurizer.obs_dim)
    cfg = dataclasses.replace(CFG, include_state=True)
    layout, critic = PipelinedSamplerConfig(n_envs=2, n_groups=2), StateFromObservation()
    with PipelinedSampler(cfg, featurizer, layout, critic) as sampler:
        assert sampler.critic_dim == 39
        ours = sampler.collect(policy, 3, seed=5)
    with VectorEnvSampler(env_fn(cfg), workers=1, featurizer=featurizer, critic_featurizer=critic) as plain:
        ref = plain.collect(policy, 3, seed=5)
    with PipelinedSampler(CFG, featurizer, PipelinedSamplerConfig(n_envs=2, n_groups=1)) as without:
        blind = without.collect(policy, 3, seed=5)
        assert without.critic_dim == without.obs_dim and blind.critic_observations is None
    assert ours.critic_observations.shape == (3 * 12, 39) and ours.critic_observations.dtype == np.float32
    hand = get_task("door").state_part_columns("hand_qpos")
    np.testing.assert_allclose(ours.critic_observations[:, hand], ours.observations[:, -24:], atol=1e-6)
    np.testing.assert_array_equal(ours.critic_observations, ref.critic_observations)
    np.testing.assert_array_equal(ours.observations, blind.observations)
    np.testing.assert_array_equal(ours.actions, blind.actions)
    assert np.ptp(ours.critic_observations[:, hand], axis=0).max() > 0  # the state moves along the rollout
    with pytest.raises(ValueError, match="include_state=True"):
        StateFromObservation()({"pixels": np.zeros((1, 1, 4, 4, 3), np.uint8)})


def test_deterministic_collect_uses_the_mean(featurizer):
    policy = _policy(featurizer.obs_dim)
    with PipelinedSampler(CFG, featurizer, PipelinedSamplerConfig(n_envs=2, n_groups=1)) as sampler:
        batch = sampler.collect(policy, 2, seed=0, deterministic=True)
    mean = policy.mean_numpy(batch.observations)
    np.testing.assert_allclose(batch.actions, mean, atol=1e-6)


def test_ray_backend_equals_local(featurizer):
    import ray  # a hard dependency: the test must fail, not skip, without it
    policy = _policy(featurizer.obs_dim)
    with PipelinedSampler(CFG, featurizer, PipelinedSamplerConfig(n_envs=2, n_groups=2)) as local:
        a = local.collect(policy, 3, seed=11)
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    try:  # an actor per env: two groups of two
        with PipelinedSampler(CFG, featurizer, PipelinedSamplerConfig(n_envs=4, n_groups=2, backend="ray")) as remote:
            assert [len(g.actors) for g in remote.groups] == [2, 2]
            b = remote.collect(policy, 3, seed=11)
        with pytest.raises(ValueError, match="need 6 CPUs; the Ray cluster has 4: lower --n-envs"):
            PipelinedSampler(CFG, featurizer, PipelinedSamplerConfig(n_envs=6, n_groups=2, backend="ray"))
    finally:
        ray.shutdown()
    for name in ("observations", "actions", "rewards", "log_probs", "successes", "seeds"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_naive_rollout_runs(featurizer):
    assert naive_rollout(CFG, featurizer, _policy(featurizer.obs_dim), n_steps=15, seed=0) == 15


@pytest.mark.parametrize("kwargs", [dict(n_envs=3, n_groups=2), dict(n_envs=0, n_groups=1), dict(backend="dask")])
def test_bad_sampler_config(kwargs):
    with pytest.raises(ValueError):
        PipelinedSamplerConfig(**kwargs)


def test_a_failing_start_stops_the_workers_it_started():
    import multiprocessing

    def broken(_obs):
        raise RuntimeError("featurizer failed")

    before = {p.pid for p in multiprocessing.active_children()}
    with pytest.raises(RuntimeError, match="featurizer failed") as err:
        PipelinedSampler(CFG, broken, PipelinedSamplerConfig(n_envs=2, n_groups=2))
    # the exception (and with it the half-built sampler's frame) is still held here: no garbage collection helped
    assert err.value is not None
    assert {p.pid for p in multiprocessing.active_children()} <= before


def test_close_terminate_ends_workers_with_a_step_in_flight(featurizer):
    """After an interrupt a step may be pending: ``close(terminate=True)`` ends the workers without waiting for it."""
    sampler = PipelinedSampler(CFG, featurizer, PipelinedSamplerConfig(n_envs=2, n_groups=1))
    group = sampler.groups[0]
    processes = list(group.vec.processes)
    group.reset([0, 1])
    group.step_async(np.zeros((2, 28), np.float32))
    sampler.close(terminate=True)
    for p in processes:
        p.join(timeout=10)
    assert not any(p.is_alive() for p in processes) and sampler.groups == []
