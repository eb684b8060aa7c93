"""The shared vocabulary: deprivation measures, service categories, colours and legends.

Plain constants and small pure functions that every later stage uses to say the same thing in
the same words (nothing here reads a file or a database).
"""
