# JupyterHub's configuration for the course's class hub, written by `python -m autograder hub start`
# (autograder/hub/site.py fills in SETTINGS). On a department server, change what the README's
# "A class on JupyterHub" section lists: the users, the authenticator, the address and TLS.
c = get_config()  # noqa: F821 (JupyterHub provides it)

SETTINGS = {}  # filled in by autograder/hub/site.py

c.JupyterHub.bind_url = SETTINGS["bind_url"]
c.JupyterHub.hub_bind_url = SETTINGS["hub_bind_url"]
c.ConfigurableHTTPProxy.command = [SETTINGS["proxy"]]
c.ConfigurableHTTPProxy.api_url = SETTINGS["api_url"]
c.JupyterHub.db_url = f"sqlite:///{SETTINGS['state']}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{SETTINGS['state']}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{SETTINGS['state']}/jupyterhub.pid"
c.JupyterHub.cleanup_servers = True  # a stopped hub stops every user's server

# Log-in with the machine's own accounts. No admin: an admin could open every learner's server.
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # no login session per server (no systemd-logind needed)
c.Authenticator.allowed_users = set(SETTINGS["users"])

# One server per user, as that user, in their home folder; the course's environment for all.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {"PATH": SETTINGS["path"]}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


def _course_server(spawner):
    """The instructor gets the Formgrader; every learner the Assignment List (autograder/hub/singleuser.py)."""
    role = "instructor" if spawner.user.name == SETTINGS["instructor"] else "learner"
    spawner.cmd = [SETTINGS["python"], "-m", "autograder.hub.singleuser", "--role", role,
                   "--exchange", SETTINGS["exchange"]]


c.Spawner.pre_spawn_hook = _course_server
