"""nbgrader settings for a class taught from the workbook: copy this file into your course directory.

Releases get what the workbook's learner copies get, made by the same preprocessors (authoring.learner): the buggy
starting code of "fix the bug" exercises, the demonstrations' outputs without stale ones, and check cells tagged so
that Run All goes past an exercise not solved yet (autograde still scores it 0). Loading this file imports nbgrader
and the workbook's authoring tools only: no Twisted, no reactor (the checks run in autograde's kernels).
"""

from authoring.execution import CELL_TIMEOUT, KERNEL_STARTUP
from authoring.learner import release_preprocessors

c = get_config()  # noqa: F821 (nbgrader defines get_config for its configuration files)
c.GenerateAssignment.preprocessors = release_preprocessors()
c.Execute.timeout = CELL_TIMEOUT  # seconds a cell may take in autograde, as in the workbook's own notebook tests
c.Execute.startup_timeout = KERNEL_STARTUP  # a kernel on a busy machine (a class grading at once) starts slowly
