"""The ground floor both twins share: seeded mini-batches, synthetic data sets, the learning-rate study's verdicts.

``scratch/`` and ``torch_ref/`` import these modules, so they import nothing of
the project themselves (NumPy and the standard library only).
"""
