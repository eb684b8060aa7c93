"""Analysis of the reference store: map data, area profiles, summaries, gaps, change over time.

Functions take a store cursor and plain values (resident counts arrive as arguments, never read
here) and return DataFrames or GeoJSON, so the same inputs give the same answers everywhere.
"""
