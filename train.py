#!/usr/bin/env python
"""Train an agent on a rec-gym environment (see ``python train.py --help``).

With no arguments: PPO with the transformer policy on ``RecEnv-v0``, TensorBoard logs under
``logs/``, then a comparison with random, popularity and the myopic oracle.
"""

import sys

from agents.runner import main

if __name__ == "__main__":
    sys.exit(main())
