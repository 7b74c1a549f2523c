"""A training run, one concern per module: :mod:`~rrl.run.assembly` (demonstrations, encoder, sampler and policy
from a config), :mod:`~rrl.run.trainer` (BC, NPG and DAPG: Algorithm 1), :mod:`~rrl.run.bc_selection` (the
choice between behaviour-cloning fits), :mod:`~rrl.run.logs` (log.csv,
TensorBoard, curve.png), :mod:`~rrl.run.loop` (train, resume, checkpoints). ``rrl.train`` gathers the public names;
the off-policy trainers live in ``rrl.train_sac`` and ``rrl.train_ferm``.
"""
