"""The state sampler on real MuJoCo door environments, trajectory batches and evaluation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rrl.policy import GaussianMLP, gaussian_log_prob_numpy
from rrl.sampling import (
    DemoData,
    StateFeaturizer,
    TrajectoryBatch,
    VectorEnvSampler,
    evaluate_policy,
    make_state_sampler,
    trajectory_seeds,
)
from rrl.tasks import get_task

HORIZON = 30


def _policy(obs_dim: int = 39, act_dim: int = 28) -> GaussianMLP:
    torch.manual_seed(0)
    return GaussianMLP(obs_dim, act_dim, (32, 32), init_log_std=-1.0)


@pytest.fixture(scope="module")
def sampler():
    s = make_state_sampler("door", workers=1, horizon=HORIZON)
    yield s
    s.close()


def test_collect_shapes_log_probs_and_seeding(sampler: VectorEnvSampler) -> None:
    policy = _policy()
    batch = sampler.collect(policy, n_trajectories=3, seed=7)
    assert (sampler.obs_dim, sampler.act_dim) == (39, 28)
    assert batch.n_trajectories == 3 and batch.n_samples == 3 * HORIZON
    assert batch.observations.dtype == np.float32 and batch.observations.shape == (3 * HORIZON, 39)
    np.testing.assert_array_equal(batch.timesteps, np.tile(np.arange(HORIZON), 3))
    np.testing.assert_array_equal(batch.lengths, [HORIZON] * 3)
    assert not batch.terminated.any()  # door never terminates: the time limit ends every episode
    np.testing.assert_allclose(np.unique(batch.rewards), [-0.1])  # sparse reward, door not opened
    # stored log-probs are those of the stored actions under the policy
    mean = policy.mean_numpy(batch.observations)
    expected = gaussian_log_prob_numpy(mean.astype(np.float64), policy.log_std.detach().numpy(), batch.actions)
    np.testing.assert_allclose(batch.log_probs, expected, rtol=1e-4)
    # the noise really is exp(log_std) * N(0, 1)
    z = (batch.actions - mean) / np.exp(policy.log_std.detach().numpy())
    assert abs(z.std() - 1.0) < 0.05 and abs(z.mean()) < 0.05
    # the first observation of trajectory j is the env reset with trajectory_seeds(seed)[j]
    env_seed = trajectory_seeds(7, 3)[1][0]
    assert batch.seeds[1] == env_seed
    from rrl.envs import EnvConfig, make_env

    env = make_env(EnvConfig(task="door"))
    first, _ = env.reset(seed=env_seed)
    np.testing.assert_allclose(batch.observations[HORIZON], first.astype(np.float32))
    # same seed -> same batch; another seed -> another batch
    again = sampler.collect(policy, n_trajectories=3, seed=7)
    np.testing.assert_array_equal(again.observations, batch.observations)
    np.testing.assert_array_equal(again.actions, batch.actions)
    other = sampler.collect(policy, n_trajectories=3, seed=8)
    assert not np.array_equal(other.observations, batch.observations)


def test_deterministic_rollouts_use_the_mean(sampler: VectorEnvSampler) -> None:
    policy = _policy()
    batch = sampler.collect(policy, n_trajectories=2, seed=0, deterministic=True)
    np.testing.assert_allclose(batch.actions, policy.mean_numpy(batch.observations), rtol=1e-5, atol=1e-6)


def test_batch_is_independent_of_worker_count(sampler: VectorEnvSampler) -> None:
    """Two spawn worker processes give bit-identical trajectories to one in-process env."""
    policy = _policy()
    one = sampler.collect(policy, n_trajectories=3, seed=11)
    with make_state_sampler("door", workers=2, horizon=HORIZON) as two_workers:
        two = two_workers.collect(policy, n_trajectories=3, seed=11)
    for field in ("observations", "actions", "rewards", "successes", "lengths", "seeds"):
        np.testing.assert_array_equal(getattr(one, field), getattr(two, field), err_msg=field)


class _ExpertActor:
    """The published door expert (rrl.demos) as a sampler policy."""

    def __init__(self, expert) -> None:
        self.expert = expert
        self.log_std = np.asarray(expert.log_std, dtype=np.float64)

    def numpy_actor(self):
        return self

    def mean(self, obs: np.ndarray) -> np.ndarray:
        return self.expert.mean_action(obs).astype(np.float32)


def test_evaluation_applies_the_task_success_rule() -> None:
    """The door expert's mean action opens the door (goal held > 25 of 200 steps); a still hand does not."""
    from rrl.demos import load_expert_policy

    task = get_task("door")
    with make_state_sampler("door", workers=1) as full_horizon:
        expert = evaluate_policy(full_horizon, _ExpertActor(load_expert_policy("door")), task, episodes=2, seed=0)
        assert expert.success_rate == 1.0 and expert.mean_return > 0
        still = evaluate_policy(full_horizon, _policy(), task, episodes=1, seed=0)
        assert still.success_rate == 0.0 and still.mean_return == pytest.approx(-0.1 * 200)


def _batch(successes_per_traj: list[int], length: int = 40) -> TrajectoryBatch:
    n = len(successes_per_traj) * length
    succ = np.concatenate([np.arange(length) < s for s in successes_per_traj])
    return TrajectoryBatch(
        observations=np.zeros((n, 2), np.float32),
        actions=np.zeros((n, 1), np.float32),
        rewards=np.where(succ, 10.0, -0.1),
        log_probs=np.zeros(n),
        successes=succ,
        timesteps=np.tile(np.arange(length), len(successes_per_traj)),
        lengths=np.full(len(successes_per_traj), length),
        terminated=np.zeros(len(successes_per_traj), bool),
        seeds=np.arange(len(successes_per_traj)),
    )


def test_trajectory_batch_success_rule_and_returns() -> None:
    batch = _batch([25, 26, 0, 40])  # door: success needs MORE than 25 goal steps
    np.testing.assert_array_equal(batch.trajectory_successes(get_task("door")), [False, True, False, True])
    assert batch.success_rate(get_task("door")) == 0.5
    np.testing.assert_allclose(batch.trajectory_returns(), [25 * 10 - 15 * 0.1, 26 * 10 - 14 * 0.1, -4.0, 400.0])
    both = TrajectoryBatch.concatenate([batch, _batch([30])])
    assert both.n_trajectories == 5 and both.success_rate(get_task("door")) == 0.6
    with pytest.raises(ValueError, match="lengths sum"):
        TrajectoryBatch(**{**batch.__dict__, "lengths": np.array([40, 40])})
    # privileged critic inputs travel row by row with the samples, or not at all
    with_state = dataclasses.replace(batch, critic_observations=np.arange(160 * 3, dtype=np.float32).reshape(160, 3))
    again = TrajectoryBatch.concatenate([with_state, with_state])
    np.testing.assert_array_equal(again.critic_observations, np.concatenate([with_state.critic_observations] * 2))
    assert TrajectoryBatch.concatenate([batch, batch]).critic_observations is None
    with pytest.raises(ValueError, match="with and without critic_observations"):
        TrajectoryBatch.concatenate([batch, with_state])
    with pytest.raises(ValueError, match="critic_observations has 3 rows, observations 160"):
        dataclasses.replace(batch, critic_observations=np.zeros((3, 3), np.float32))


def test_demo_data_and_featurizer_validate_shapes() -> None:
    demos = DemoData.from_trajectories(
        [
            {"observations": np.ones((3, 4)), "actions": np.zeros((3, 2))},
            {"observations": np.ones((2, 4)), "actions": np.zeros((2, 2))},
        ]
    )
    assert demos.observations.shape == (5, 4) and demos.observations.dtype == np.float32 and demos.n_trajectories == 2
    assert demos.fingerprint() == DemoData(demos.observations.copy(), demos.actions.copy(), 2).fingerprint()
    with pytest.raises(ValueError, match="same number of rows"):
        DemoData(np.ones((3, 4), np.float32), np.ones((2, 2), np.float32), 1)
    with pytest.raises(ValueError, match="n_envs, dim"):
        StateFeaturizer()(np.ones(3))


def test_spawned_workers_need_a_main_module_file(monkeypatch) -> None:
    """Code piped to `python -` has no main file for spawned workers to re-import: a clear error, not a hang."""
    import sys

    from rrl.envs import EnvConfig
    from rrl.sampling.pipelined import _LocalGroup

    monkeypatch.setattr(sys.modules["__main__"], "__file__", "<stdin>", raising=False)
    with pytest.raises(RuntimeError, match="'<stdin>' is not a file.*__name__ == '__main__'"):
        make_state_sampler("door", workers=2, horizon=HORIZON)
    with pytest.raises(RuntimeError, match="re-imports the main module"):  # the pixel sampler's worker groups
        _LocalGroup(EnvConfig(task="door", obs_mode="rgb+proprio", render_size=32, crop_size=32), 2)
