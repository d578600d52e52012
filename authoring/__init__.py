"""The workbook's authoring tools, apart from the runtime a learner's kernel imports (``labkit``).

Learner copies and nbgrader releases (:mod:`authoring.learner`), and the commands an author or ``make`` runs
(``python -m authoring learner-copies|execute|workspace``). Nothing here imports Twisted or ``labkit``: nbgrader
loads :mod:`authoring.learner` from a course's ``nbgrader_config.py`` without starting a reactor.
"""
