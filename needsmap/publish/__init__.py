"""Publishing: area reports and the commissioning pack, printable maps and data exports.

Built from analysis and voice results that are already protected; templates are autoescaped.
"""
