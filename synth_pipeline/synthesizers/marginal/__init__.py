"""Marginal-based DP generators (MST, AIM): noisy marginals under zCDP and a graphical model
fitted to them by the project's numpy engine (``engine.py``: private-pgm's algorithm)."""
