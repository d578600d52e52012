"""nbgrader settings for a class taught from the workbook: copy this file into your course directory.

Releases get what the workbook's learner copies get, made by the same preprocessors (labkit.learner): the buggy
starting code of "fix the bug" exercises, the demonstrations' outputs without stale ones, and check cells tagged so
that Run All goes past an exercise not solved yet (autograde still scores it 0).
"""

from labkit.learner import release_preprocessors

c = get_config()  # noqa: F821 (nbgrader defines get_config for its configuration files)
c.GenerateAssignment.preprocessors = release_preprocessors()
c.Execute.timeout = 120  # seconds a cell may take in autograde, as in the workbook's own notebook tests
