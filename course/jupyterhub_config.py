"""JupyterHub settings for a class on one machine (README, "A class on one machine"): put this file at
/etc/jupyterhub/jupyterhub_config.py and run the hub from the class's environment (/opt/twisted-workbook/bin/
jupyterhub -f /etc/jupyterhub/jupyterhub_config.py). Learners are the machine's Unix users (PAM logins, the default);
each one's server runs as that user, from the same environment as the hub (sys.prefix).
"""

import sys

c = get_config()  # noqa: F821 (JupyterHub defines get_config for its configuration files)
ENVIRONMENT = sys.prefix

c.JupyterHub.bind_url = "http://:8000"  # put a TLS-terminating proxy in front, or set ssl_key and ssl_cert
c.JupyterHub.db_url = "sqlite:////srv/jupyterhub/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/srv/jupyterhub/jupyterhub_cookie_secret"
c.ConfigurableHTTPProxy.pid_file = "/srv/jupyterhub/jupyterhub-proxy.pid"

c.Authenticator.admin_users = {"instructor"}
c.Authenticator.allow_existing_users = True  # the users the admin page adds may log in
c.LocalAuthenticator.create_system_users = False  # learners are made with adduser (home 0700), not by the hub

c.Spawner.default_url = "/lab"
c.Spawner.cmd = [f"{ENVIRONMENT}/bin/jupyterhub-singleuser"]
# Learners' servers find the class's tools first; terminals are login shells, whose PATH /etc/profile sets, so
# /etc/profile.d/twisted-workbook.sh (course/profile.sh) puts the same folder first there too.
c.Spawner.environment = {"PATH": f"{ENVIRONMENT}/bin:/usr/local/bin:/usr/bin:/bin"}
# Many servers starting at once on a small machine: six took 25-28 s here, against the default 30 s.
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120

# nbgrader: the environment turns the instructor's tools off for everyone (README); an admin's server gets the
# formgrader and course list back here (a user-level `jupyter server extension enable` cannot override it).
INSTRUCTOR_TOOLS = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list")


def instructors_get_the_formgrader(spawner):
    """Give the servers of the hub's admins (admin_users) nbgrader's instructor side."""
    if spawner.user.admin:
        spawner.args = [*spawner.args, *(f"--ServerApp.jpserver_extensions={name}=True" for name in INSTRUCTOR_TOOLS)]


c.Spawner.pre_spawn_hook = instructors_get_the_formgrader

# Idle servers are stopped (kernels with them) after an hour; every labkit kernel's helpers go with it.
c.JupyterHub.load_roles = [{"name": "idle-culler", "services": ["idle-culler"],
                            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]}]
c.JupyterHub.services = [{"name": "idle-culler",
                          "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=3600"]}]
