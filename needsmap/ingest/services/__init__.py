"""Provision loaders: services and voluntary-sector records from local lists, registers and feeds.

Each module turns one kind of source into plain records; ``records`` geocodes, stages,
de-duplicates and swaps them into the store the same way for all of them.
"""
