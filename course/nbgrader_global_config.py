"""nbgrader settings every user of a class's machine shares: the course and its exchange folder. Put this file
in the class's environment as /opt/twisted-workbook/etc/jupyter/nbgrader_config.py (README, "A class on one
machine"); the instructor's course folder keeps course/nbgrader_config.py beside its source/ folder."""

c = get_config()  # noqa: F821 (nbgrader defines get_config for its configuration files)
c.CourseDirectory.course_id = "twisted-workbook"
c.Exchange.root = "/srv/nbgrader/exchange"
