"""Residents' voice: reports of need, notes, moderation, accounts, decisions, privacy rules.

Everything people write goes through here into the user store, and everything that leaves it
(map layers, counts, quotes) is protected here first (``privacy``, ``disclosure``).
"""
