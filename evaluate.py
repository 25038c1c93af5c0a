#!/usr/bin/env python
"""Evaluate a trained agent next to baselines, online or on a real log (``--help``).

With a run folder of ``train.py``: the agent and random, popularity, the myopic and
planning oracles, the anti-oracle and online bandits play the same seeded users in the
env the run trained on; a table, results.json, results.md and PNG plots are written.

SB3 model zips contain pickles: never evaluate models from untrusted sources.
"""

import sys

from agents.eval_runner import main

if __name__ == "__main__":
    sys.exit(main())
