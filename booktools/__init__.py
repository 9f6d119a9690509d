"""``booktools``: the machinery that builds, tests and teaches the book. No chapter imports it.

- ``booktools.sphinxext``: the Sphinx extension of ``_config.yml`` (MathJax served offline, links
  to the API page, Markdown downloads), which loads ``booktools.execution`` (the notebooks run in
  parallel before Sphinx reads them, cached under a hash of ``codebase`` and the pins);
- ``booktools.course``: student and instructor editions, course packs and nbgrader assignments
  (``python -m booktools.course``);
- ``booktools.matrix``: strict nbval under several arithmetic environments (``python -m booktools.matrix``).

It needs the ``[book]`` extra of ``pyproject.toml`` (``requirements.txt`` installs it).
"""
