"""Agents for rec-gym: SB3 algorithms and policies, and classic recommender baselines."""
