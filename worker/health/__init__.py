"""Source health: is every watched source still producing stories?

The silent failure is the one operators fear: everything runs, yet a source has given
nothing for days (its feed moved, a layout change empties every body, a bot wall answers
403, a partition is stuck). Every stage reports what it saw of a source as a small
``HealthEvent``; the worker that owns the source's host folds them into a ``SourceState``
(``tracker``), and ``rules.evaluate`` turns the facts into one of four states with a
one-line reason. All of it is plain data and pure functions; the agents only wire it.
"""
