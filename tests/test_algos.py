"""Numerical tests of the policy, the baseline and the algorithms (paper Eq. 4-9)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rrl.algos import (
    bc_loss,
    behavior_clone,
    compute_gae,
    conjugate_gradient,
    dapg_gradient,
    demo_weight,
    discounted_returns,
    fisher_vector_product,
    make_fisher_vector_product,
    mean_kl,
    normalized_step_size,
    npg_step,
    policy_advantages,
)
from rrl.baseline import ValueBaseline
from rrl.policy import GaussianMLP, gaussian_kl, gaussian_log_prob


@pytest.fixture(scope="module")
def door_states() -> np.ndarray:
    """400 real door observations (two episodes of small random actions), float32."""
    from rrl.envs import EnvConfig, make_env

    env = make_env(EnvConfig(task="door", obs_mode="state"))
    rng = np.random.default_rng(0)
    states = []
    for seed in (0, 1):
        obs, _ = env.reset(seed=seed)
        for _ in range(200):
            states.append(obs)
            obs, *_ = env.step(rng.uniform(-0.5, 0.5, 28).astype(np.float32))
    env.close()
    return np.asarray(states, dtype=np.float32)


def _tiny_policy(seed: int = 0, obs_dim: int = 3, act_dim: int = 2, hidden=(4,)) -> GaussianMLP:
    torch.manual_seed(seed)
    policy = GaussianMLP(obs_dim, act_dim, hidden, init_log_std=-0.5)
    rng = np.random.default_rng(seed)
    # non-trivial shift/scale so that they enter the Jacobians, and a last layer that is not ~0
    policy.fit_to_demos(rng.normal(1.0, 2.0, (50, obs_dim)), rng.normal(0.3, 0.5, (50, act_dim)))
    with torch.no_grad():
        policy.net[-1].weight.normal_()
        policy.log_std.copy_(torch.tensor(rng.uniform(-1.0, 0.0, act_dim)))
    return policy


def _dense(operator, n: int) -> torch.Tensor:
    return torch.stack([operator(torch.eye(n, dtype=torch.float32)[i]) for i in range(n)], dim=1)


# ---------------------------------------------------------------------------------------------- Fisher
def test_fisher_vector_product_equals_explicit_fisher() -> None:
    policy = _tiny_policy()
    obs = torch.as_tensor(np.random.default_rng(1).normal(1.0, 2.0, (7, 3)), dtype=torch.float32)
    n_params = sum(p.numel() for p in policy.flat_param_list())
    fvp_matrix = _dense(make_fisher_vector_product(policy, obs, damping=0.0), n_params).double()

    # explicit Fisher: 1/N sum_n J_n^T Sigma^-1 J_n for the mean, 2 I for the log-std (Eq. 7 in expectation)
    params = policy.mean_params()
    flat0 = torch.cat([p.detach().reshape(-1) for p in params])
    sizes = [p.numel() for p in params]

    def mean_of(flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        chunks = [c.view_as(p) for c, p in zip(torch.split(flat, sizes), params)]
        h = (x - policy.in_shift) / policy.in_scale
        lin = [m for m in policy.net if isinstance(m, torch.nn.Linear)]
        for i in range(len(lin)):
            h = h @ chunks[2 * i].T + chunks[2 * i + 1]
            if i < len(lin) - 1:
                h = torch.tanh(h)
        return policy.out_shift + policy.out_scale * h

    inv_var = torch.exp(-2 * policy.log_std.detach()).double()
    fisher = torch.zeros(n_params, n_params, dtype=torch.float64)
    n_mean = len(flat0)
    for x in obs:
        # (m, P); the lambda is called right here, in this iteration, so the late binding of x is harmless
        jac = torch.autograd.functional.jacobian(lambda f: mean_of(f, x[None])[0], flat0).double()  # noqa: B023
        fisher[:n_mean, :n_mean] += jac.T @ torch.diag(inv_var) @ jac / len(obs)
    fisher[n_mean:, n_mean:] = 2.0 * torch.eye(policy.act_dim, dtype=torch.float64)
    assert torch.allclose(fvp_matrix, fisher, rtol=1e-4, atol=1e-5)

    # the same matrix is the Hessian of the mean KL at the current parameters (an independent autodiff path)
    with torch.no_grad():
        mean0, log_std0 = policy(obs).clone(), policy.log_std.clone()
    theta0 = policy.flat_params()

    def kl_at(theta: torch.Tensor) -> torch.Tensor:
        mean = mean_of(theta[:n_mean], obs)
        return gaussian_kl(mean0, log_std0, mean, theta[n_mean:]).mean()

    hessian = torch.autograd.functional.hessian(kl_at, theta0).double()
    assert torch.allclose(fvp_matrix, hessian, rtol=1e-4, atol=1e-5)


def test_fisher_matches_empirical_score_outer_products() -> None:
    """Eq. 7's sampled estimate (score outer products) converges to the closed form the FVP uses."""
    policy = _tiny_policy(seed=3, hidden=(3,))
    obs = torch.as_tensor(np.random.default_rng(2).normal(1.0, 2.0, (4, 3)), dtype=torch.float32)
    n_params = sum(p.numel() for p in policy.flat_param_list())
    exact = _dense(make_fisher_vector_product(policy, obs, damping=0.0), n_params).double()
    gen = torch.Generator().manual_seed(0)
    n_actions = 1000
    obs_rep = obs.repeat(n_actions, 1)
    with torch.no_grad():
        actions = policy(obs_rep) + torch.exp(policy.log_std) * torch.randn(len(obs_rep), 2, generator=gen)
    scores = []
    for j in range(len(obs_rep)):  # one score vector grad log pi(a_j | s_j) per sample
        lp = policy.log_prob(obs_rep[j : j + 1], actions[j : j + 1]).sum()
        scores.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(lp, policy.flat_param_list())]))
    s = torch.stack(scores).double()
    empirical = s.T @ s / len(s)
    rel = (empirical - exact).norm() / exact.norm()
    assert rel < 0.1, f"empirical Fisher differs from the closed form by {rel:.3f}"


def test_fisher_vector_product_bfloat16_is_close() -> None:
    policy = _tiny_policy(seed=4, obs_dim=20, act_dim=5, hidden=(32, 32))
    obs = torch.randn(500, 20, generator=torch.Generator().manual_seed(0))
    v = torch.randn(sum(p.numel() for p in policy.flat_param_list()), generator=torch.Generator().manual_seed(1))
    exact = fisher_vector_product(policy, obs, v, damping=1e-4)
    approx = make_fisher_vector_product(policy, obs, 1e-4, precision="bfloat16")(v)
    assert (approx - exact).norm() / exact.norm() < 0.02


# ------------------------------------------------------------------------------------------------- CG
def test_conjugate_gradient_solves_spd_system() -> None:
    rng = np.random.default_rng(0)
    m = rng.standard_normal((12, 12))
    a = torch.as_tensor(m @ m.T + 0.5 * np.eye(12))
    b = torch.as_tensor(rng.standard_normal(12))
    x = conjugate_gradient(lambda v: a @ v, b, iters=12, residual_tol=0.0)
    expected = torch.linalg.solve(a, b)
    assert torch.allclose(x, expected, rtol=1e-6, atol=1e-8)
    # fewer iterations: an approximation whose A-norm error decreases with the iteration count
    errs = []
    for iters in (1, 3, 6):
        e = conjugate_gradient(lambda v: a @ v, b, iters=iters, residual_tol=0.0) - expected
        errs.append(float(e @ a @ e))
    assert errs[0] > errs[1] > errs[2]


def test_conjugate_gradient_stops_on_zero_rhs() -> None:
    x = conjugate_gradient(lambda v: 2 * v, torch.zeros(5), iters=10)
    assert torch.equal(x, torch.zeros(5))


# ------------------------------------------------------------------------------------------------ NPG
def test_npg_step_kl_is_close_to_half_delta(door_states: np.ndarray) -> None:
    """Eq. 6 scales the step so that the quadratic KL model predicts delta/2; the achieved KL is close."""
    torch.manual_seed(0)
    obs = torch.as_tensor(door_states)
    policy = GaussianMLP(obs.shape[1], 28, (64, 64))
    rng = np.random.default_rng(0)
    policy.fit_to_demos(door_states, rng.normal(0, 0.3, (len(door_states), 28)))
    with torch.no_grad():
        actions = policy(obs) + torch.exp(policy.log_std) * torch.randn(len(obs), 28)
        old_mean, old_log_std = policy(obs), policy.log_std.clone()
    adv = torch.as_tensor(rng.standard_normal(len(obs)), dtype=torch.float32)
    grad = dapg_gradient(policy, obs, actions, adv, None, None, 0.0)
    delta = 0.05
    step = npg_step(policy, obs, grad, delta=delta, cg_iters=10, damping=1e-4)
    assert step.step_size == pytest.approx(normalized_step_size(grad, step.direction, delta))
    policy.set_flat_params(step.new_params)
    kl = mean_kl(policy, obs, old_mean, old_log_std)
    assert 0.8 * delta / 2 < kl < 1.25 * delta / 2, f"KL {kl} not close to delta/2 = {delta / 2}"
    assert kl < delta


def test_npg_step_fisher_norm_keeps_the_kl_target_under_damping(door_states: np.ndarray) -> None:
    """``step_norm='fisher'`` measures the step by ``d^T F d``: without damping it equals Eq. 6's ``g^T d``;
    with heavy damping Eq. 6 undershoots the KL target and the Fisher norm still reaches delta/2."""
    torch.manual_seed(0)
    obs = torch.as_tensor(door_states)
    policy = GaussianMLP(obs.shape[1], 28, (64, 64))
    rng = np.random.default_rng(0)
    policy.fit_to_demos(door_states, rng.normal(0, 0.3, (len(door_states), 28)))
    with torch.no_grad():
        actions = policy(obs) + torch.exp(policy.log_std) * torch.randn(len(obs), 28)
        old_mean, old_log_std = policy(obs), policy.log_std.clone()
    grad = dapg_gradient(policy, obs, actions, torch.as_tensor(rng.standard_normal(len(obs)), dtype=torch.float32),
                         None, None, 0.0)  # fmt: skip
    delta, start = 0.05, policy.flat_params().clone()

    def kl_of(step) -> float:
        policy.set_flat_params(step.new_params)
        kl = mean_kl(policy, obs, old_mean, old_log_std)
        policy.set_flat_params(start)
        return kl

    plain = npg_step(policy, obs, grad, delta=delta, cg_iters=10, damping=0.0)
    fisher = npg_step(policy, obs, grad, delta=delta, cg_iters=10, damping=0.0, step_norm="fisher")
    assert torch.allclose(fisher.direction, plain.direction)
    assert fisher.step_size == pytest.approx(plain.step_size, rel=1e-3)
    damped = npg_step(policy, obs, grad, delta=delta, cg_iters=10, damping=10.0)
    damped_fisher = npg_step(policy, obs, grad, delta=delta, cg_iters=10, damping=10.0, step_norm="fisher")
    assert torch.equal(damped_fisher.direction, damped.direction) and damped_fisher.step_size > 1.5 * damped.step_size
    assert kl_of(damped) < 0.5 * delta / 2  # Eq. 6's g^T d over-counts the damped directions
    assert 0.8 * delta / 2 < kl_of(damped_fisher) < 1.25 * delta / 2
    with pytest.raises(ValueError, match="step_norm must be one of"):
        npg_step(policy, obs, grad, step_norm="euclid")


def test_npg_step_with_frozen_layers_is_the_natural_gradient_of_the_rest() -> None:
    """A ``trainable`` mask leaves the masked parameters where they are and solves ``F x = g`` restricted to the
    others, checked against a dense solve of that sub-system."""
    policy = _tiny_policy(seed=5, obs_dim=3, act_dim=2, hidden=(4, 3))
    obs = torch.as_tensor(np.random.default_rng(3).normal(1.0, 2.0, (40, 3)), dtype=torch.float32)
    n = sum(p.numel() for p in policy.flat_param_list())
    grad = torch.randn(n, generator=torch.Generator().manual_seed(0))
    mask = policy.trainable_mask(1)
    first = policy.net[0]
    assert mask.shape == (n,) and int((mask == 0).sum()) == first.weight.numel() + first.bias.numel()
    assert torch.equal(mask[: first.weight.numel()], torch.zeros(first.weight.numel()))
    assert torch.equal(policy.trainable_mask(0), torch.ones(n))

    step = npg_step(policy, obs, grad, delta=0.05, cg_iters=200, damping=1e-3, trainable=mask)
    keep = mask.bool()
    assert torch.equal(step.direction[~keep], torch.zeros(int((~keep).sum())))
    assert torch.equal(step.new_params[~keep], policy.flat_params()[~keep])
    fisher = _dense(make_fisher_vector_product(policy, obs, damping=1e-3), n).double()
    # the product that skips the frozen tensors: the same sub-matrix, only the damping on the frozen entries
    frozen_flags = [True, True, False, False, False, False]  # first layer's weight and bias
    restricted = _dense(make_fisher_vector_product(policy, obs, damping=1e-3, frozen=frozen_flags), n).double()
    assert torch.allclose(restricted[keep][:, keep], fisher[keep][:, keep], rtol=1e-5, atol=1e-7)
    assert torch.equal(restricted[~keep], (1e-3 * torch.eye(n))[~keep].double())
    assert not restricted[:, ~keep][keep].any()
    with pytest.raises(ValueError, match="6 mean-network parameter tensors"):
        make_fisher_vector_product(policy, obs, frozen=[True])
    with pytest.raises(ValueError, match="at least one must move"):
        make_fisher_vector_product(policy, obs, frozen=[True] * 6)
    sub = torch.linalg.solve(fisher[keep][:, keep], grad[keep].double())
    assert torch.allclose(step.direction[keep].double(), sub, rtol=1e-3, atol=1e-4 * float(sub.abs().max()))
    # Eq. 6 with the restricted gradient: the quadratic KL of the step is delta / 2
    quad = float(step.direction.double() @ fisher @ step.direction.double()) * step.step_size**2
    assert quad == pytest.approx(0.05, rel=1e-3)
    # the unmasked step differs (it moves the first layer too)
    full = npg_step(policy, obs, grad, cg_iters=200, damping=1e-3)
    assert not torch.allclose(full.direction[keep], step.direction[keep])
    with pytest.raises(ValueError, match="frozen_layers must be in \\[0, 2\\]"):
        policy.trainable_mask(3)
    with pytest.raises(ValueError, match="trainable mask has shape"):
        npg_step(policy, obs, grad, trainable=mask[:-1])


def test_policy_gradient_matches_per_sample_sum() -> None:
    """Eq. 8 computed vectorised equals the explicit per-sample sums."""
    policy = _tiny_policy(seed=5)
    rng = np.random.default_rng(5)
    obs, act = torch.randn(6, 3), torch.randn(6, 2)
    demo_obs, demo_act = torch.randn(4, 3), torch.randn(4, 2)
    adv = torch.as_tensor(rng.standard_normal(6), dtype=torch.float32)
    w = 0.37
    got = dapg_gradient(policy, obs, act, adv, demo_obs, demo_act, w)
    total = 0.0
    for o, a, weight in (
        [(obs[i], act[i], adv[i]) for i in range(6)] + [(demo_obs[i], demo_act[i], w) for i in range(4)]
    ):
        total = total + weight * policy.log_prob(o[None], a[None]).sum()
    expected = torch.autograd.grad(total / 10, policy.flat_param_list())
    expected = torch.cat([g.reshape(-1) for g in expected])
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-6)
    # without demonstrations it is Eq. 4
    no_demo = dapg_gradient(policy, obs, act, adv, None, None, 0.0)
    total = sum(adv[i] * policy.log_prob(obs[i : i + 1], act[i : i + 1]).sum() for i in range(6)) / 6
    expected = torch.cat([g.reshape(-1) for g in torch.autograd.grad(total, policy.flat_param_list())])
    assert torch.allclose(no_demo, expected, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------------- DAPG
def test_demo_weight_follows_eq9_and_decays() -> None:
    adv = np.array([-1.0, 0.5, 2.5, 0.0])
    weights = [demo_weight(adv, k, lam_0=0.01, lam_1=0.95) for k in range(50)]
    for k, w in enumerate(weights):
        assert w == pytest.approx(0.01 * 0.95**k * 2.5, rel=1e-12)
    assert all(a > b for a, b in zip(weights, weights[1:]))
    assert weights[-1] / weights[0] == pytest.approx(0.95**49)
    assert demo_weight(-adv - 3.0, 0) == 0.0  # all advantages negative (unnormalised): no weight, not a push away
    # mjrl variant: no max-advantage factor, advantages whitened
    assert demo_weight(adv, 3, 0.01, 0.95, variant="mjrl") == pytest.approx(0.01 * 0.95**3)
    assert policy_advantages(adv, "mjrl") == pytest.approx((adv - adv.mean()) / adv.std(), rel=1e-6)
    assert policy_advantages(adv, "paper") is adv
    with pytest.raises(ValueError, match="variant"):
        demo_weight(adv, 0, variant="other")


# ------------------------------------------------------------------------------------------------ GAE
def test_gae_matches_hand_computation() -> None:
    gamma, lam = 0.9, 0.8
    rewards = np.array([1.0, 0.0, 2.0, 3.0, -1.0])  # trajectory A: 3 steps, B: 2 steps
    values = np.array([0.5, 1.0, 1.5, 2.0, 0.2])
    lengths = np.array([3, 2])
    # trajectory A by hand (V after the last step = 0)
    d0 = 1.0 + 0.9 * 1.0 - 0.5
    d1 = 0.0 + 0.9 * 1.5 - 1.0
    d2 = 2.0 + 0.0 - 1.5
    a2 = d2
    a1 = d1 + 0.72 * a2
    a0 = d0 + 0.72 * a1
    # trajectory B
    e0 = 3.0 + 0.9 * 0.2 - 2.0
    e1 = -1.0 - 0.2
    b1 = e1
    b0 = e0 + 0.72 * b1
    np.testing.assert_allclose(compute_gae(rewards, values, lengths, gamma, lam), [a0, a1, a2, b0, b1], rtol=1e-12)
    np.testing.assert_allclose(
        discounted_returns(rewards, lengths, gamma),
        [1.0 + 0.9 * 0.0 + 0.81 * 2.0, 0.0 + 0.9 * 2.0, 2.0, 3.0 - 0.9, -1.0],
    )
    # lambda = 1: Monte-Carlo returns minus values; lambda = 0: one-step TD errors
    np.testing.assert_allclose(
        compute_gae(rewards, values, lengths, gamma, 1.0), discounted_returns(rewards, lengths, gamma) - values
    )
    np.testing.assert_allclose(compute_gae(rewards, values, lengths, gamma, 0.0), [d0, d1, d2, e0, e1])


def test_gae_rejects_inconsistent_lengths() -> None:
    with pytest.raises(ValueError, match="lengths"):
        compute_gae(np.zeros(5), np.zeros(5), np.array([2, 2]))


# ------------------------------------------------------------------------------------------------- BC
def test_behavior_cloning_drives_loss_down(door_states: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.3, (door_states.shape[1], 28))
    actions = np.tanh(door_states @ w).astype(np.float32)  # a smooth function of real door states
    torch.manual_seed(0)
    policy = GaussianMLP(door_states.shape[1], 28, (64, 64))
    policy.fit_to_demos(door_states, actions)
    obs_t, act_t = torch.as_tensor(door_states), torch.as_tensor(actions)
    before = bc_loss(policy, obs_t, act_t).item()
    log_std_before = policy.log_std.detach().clone()
    losses = behavior_clone(policy, door_states, actions, epochs=20, batch_size=32, lr=1e-3, seed=0)
    after = bc_loss(policy, obs_t, act_t).item()
    assert after < 0.2 * before, (before, after)
    assert losses[-1] < losses[0]
    assert torch.equal(policy.log_std.detach(), log_std_before)  # BC trains the mean only


# --------------------------------------------------------------------------------------------- policy
def test_policy_fit_to_demos_sets_scales_and_log_std() -> None:
    rng = np.random.default_rng(0)
    obs = rng.normal(3.0, 2.0, (500, 4))
    obs[:, 3] = 7.0  # a constant feature must not blow up
    act = rng.normal(0.0, [0.5, 0.01, 0.2], (500, 3))
    policy = GaussianMLP(4, 3, (8,), min_log_std=-3.0)
    policy.fit_to_demos(obs, act)
    np.testing.assert_allclose(policy.in_shift.numpy(), obs.mean(0), rtol=1e-5)
    assert policy.in_scale[3] == 1.0
    np.testing.assert_allclose(policy.out_scale.numpy(), act.std(0), rtol=1e-5)
    expected = np.maximum(np.log(act.std(0)), -3.0)  # log(0.01) = -4.6 is clamped to min_log_std
    np.testing.assert_allclose(policy.log_std.detach().numpy(), expected, rtol=1e-5)
    # the numpy actor used by the samplers gives the same mean as torch
    x = rng.normal(3.0, 2.0, (5, 4)).astype(np.float32)
    np.testing.assert_allclose(policy.numpy_actor().mean(x), policy.mean_numpy(x), rtol=1e-5, atol=1e-6)


def test_input_pca_whitens_the_demo_inputs_and_leaves_the_tail_raw() -> None:
    """``pca_components``: the first layer sees the leading whitened principal components of the normalised
    inputs before the tail (unit variance, uncorrelated on the demos) and the tail raw; torch and the numpy actor
    agree, a checkpoint restores it, and inputs the demos never span cannot pass."""
    rng = np.random.default_rng(0)
    n, d, rank, tail = 600, 40, 10, 5
    lead = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d)) + 0.01 * rng.normal(size=(n, d))
    obs = np.concatenate([lead + 4.0, rng.normal(2.0, 3.0, (n, tail))], axis=1)
    act = rng.normal(size=(n, 3))
    policy = GaussianMLP(d + tail, 3, (8,), pca_components=6, pca_tail=tail)
    assert policy.net[0].in_features == 6 + tail
    policy.fit_to_demos(obs, act)
    z = policy.numpy_actor().normalize(obs.astype(np.float32)).astype(np.float64)
    assert z.shape == (n, 6 + tail)
    np.testing.assert_allclose(np.cov(z[:, :6].T, bias=True), np.eye(6), atol=1e-3)
    np.testing.assert_allclose(z[:, 6:], (obs[:, d:] - obs[:, d:].mean(0)) / obs[:, d:].std(0), rtol=1e-4, atol=1e-4)
    x = obs[:7].astype(np.float32)
    np.testing.assert_allclose(policy.numpy_actor().mean(x), policy.mean_numpy(x), rtol=1e-5, atol=1e-6)
    twin = GaussianMLP(d + tail, 3, (8,), pca_components=6, pca_tail=tail)
    twin.load_state_dict(policy.state_dict())
    np.testing.assert_array_equal(twin.mean_numpy(x), policy.mean_numpy(x))
    # a direction of the leading inputs orthogonal to the demos' principal components does not reach the network
    proj = policy.in_proj.numpy().astype(np.float64)
    off = np.linalg.svd(proj.T)[2][-1] * policy.in_scale.numpy()[:d]  # in the null space of proj^T (normalised)
    moved = x.copy()
    moved[:, :d] += (50.0 * off).astype(np.float32)
    np.testing.assert_allclose(policy.mean_numpy(moved), policy.mean_numpy(x), rtol=1e-4, atol=1e-4)
    exact = obs.copy()
    exact[:, :d] = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d))  # leading inputs of rank 10 exactly
    with pytest.raises(ValueError, match="span only 10 directions; use input_pca <= 10"):
        GaussianMLP(d + tail, 3, (8,), pca_components=12, pca_tail=tail).fit_to_demos(exact, act)
    with pytest.raises(ValueError, match="components <= that number"):
        GaussianMLP(10, 3, (8,), pca_components=8, pca_tail=5)


def test_gaussian_log_prob_matches_torch_distribution() -> None:
    mean, log_std, a = torch.randn(5, 3), torch.randn(3), torch.randn(5, 3)
    expected = torch.distributions.Normal(mean, log_std.exp()).log_prob(a).sum(-1)
    assert torch.allclose(gaussian_log_prob(mean, log_std, a), expected, atol=1e-5)


# ------------------------------------------------------------------------------------------- baseline
def test_value_baseline_fits_returns_and_preserves_outputs(door_states: np.ndarray) -> None:
    torch.manual_seed(0)
    n = len(door_states)
    t = np.arange(n) % 100
    returns = 50.0 * (1 - t / 100) + 10 * np.tanh(door_states[:, :5].sum(1))  # depends on time and state
    vf = ValueBaseline(door_states.shape[1], horizon=100, batch_size=64, epochs=2)
    assert np.all(vf.predict(door_states, t) == 0)
    errors = [vf.fit(door_states, t, returns, np.random.default_rng(i)) for i in range(5)]
    assert errors[0]["vf_error_before"] == pytest.approx(1.0)
    assert errors[-1]["vf_error_after"] < 0.05
    # new target statistics do not change the current predictions (outputs preserved)
    before = vf.predict(door_states, t)
    vf._update_target_stats(returns * 3 + 100)
    np.testing.assert_allclose(vf.predict(door_states, t), before, rtol=1e-4, atol=1e-3)


def test_baseline_checkpoint_keeps_adam_moments_but_takes_new_learning_rate() -> None:
    rng = np.random.default_rng(0)
    obs, t, ret = rng.normal(size=(64, 5)), np.arange(64) % 20, rng.normal(size=64)
    old = ValueBaseline(5, horizon=20, hidden_sizes=(8,), lr=1e-3, weight_decay=1e-3)
    old.fit(obs, t, ret, rng)
    new = ValueBaseline(5, horizon=20, hidden_sizes=(8,), lr=1e-5, weight_decay=0.0)
    new.load_state_dict(old.state_dict())
    group = new.optimizer.param_groups[0]
    assert group["lr"] == 1e-5 and group["weight_decay"] == 0.0  # the resumed run's settings, not the checkpoint's
    moments = old.optimizer.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(new.optimizer.state_dict()["state"][0]["exp_avg"], moments)
