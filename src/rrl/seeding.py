"""Seed streams: every random purpose of a run draws from its own seed, derived from the run's seed, the iteration
and the purpose, so that adding or resuming anything never shifts another stream."""

from __future__ import annotations

import numpy as np

# one number per purpose; a new purpose takes a new number
STREAM_TRAIN = 1  # training rollouts (reset seeds and action noise)
STREAM_EVAL = 2  # deterministic evaluation episodes
STREAM_VF = 3  # value-function minibatches
STREAM_FVP = 4  # the Fisher-vector-product subsample
STREAM_REPLAY = 5  # off-policy minibatches (sac, ferm)
STREAM_BC = 6  # the off-policy learners' warm-up (BC minibatches, CURL batches)
STREAM_BC_SELECT = 7  # choosing between BC fits: the episodes (iteration 0), fit c's minibatches (iteration c >= 1)


def stream_seed(seed: int, iteration: int, stream: int) -> int:
    """An independent 31-bit seed for one purpose (``stream``) of one iteration of run ``seed``."""
    ss = np.random.SeedSequence([int(seed), int(iteration), int(stream)])
    return int(ss.generate_state(1, dtype=np.uint32)[0] & 0x7FFFFFFF)
