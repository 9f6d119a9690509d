"""``booktools``: the machinery that builds, tests and teaches the book (not imported by the chapters).

- ``booktools.matrix``: strict nbval under several arithmetic environments (``python -m booktools.matrix``)
"""
