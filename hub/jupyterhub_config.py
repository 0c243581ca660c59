"""JupyterHub for a class on one Linux machine (up to about 100 students); docs/hub.md walks through it.

The hub and every student's server run from one Python environment that holds the course's packages, with
``course_utils`` installed as a normal package (not editable): see docs/hub.md for the commands. Each student
gets a systemd unit with its own memory and CPU limits and a home folder of its own (systemd's dynamic users:
no Unix accounts to create). Students on the roster (``students.txt`` next to this file, one name a line) choose
their password the first time they log in. A server idle for an hour is stopped and its memory freed; the
student's files stay.

Start it from the folder that holds this file: ``sudo /opt/foundations/bin/jupyterhub -f jupyterhub_config.py``.
"""

import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub provides it)
HERE = Path(__file__).resolve().parent
ENV_BIN = Path(sys.executable).parent  # the environment the hub runs from serves the students too

# Who may log in: the roster, and the instructor, who also sees the admin page (servers, users, the grader).
roster = HERE / "students.txt"
c.Authenticator.allowed_users = set(roster.read_text().split()) if roster.exists() else set()
c.Authenticator.admin_users = {"instructor"}
# First use: a listed student picks a password at the first login; nobody else gets an account.
c.JupyterHub.authenticator_class = "firstuseauthenticator.FirstUseAuthenticator"
c.FirstUseAuthenticator.create_users = False
c.FirstUseAuthenticator.min_password_length = 8
c.FirstUseAuthenticator.dbm_path = str(HERE / "passwords.dbm")

# Plain HTTP on port 8000: put it behind the school's HTTPS proxy, or set ssl_key and ssl_cert here.
c.JupyterHub.bind_url = "http://:8000"
c.JupyterHub.db_url = f"sqlite:///{HERE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(HERE / "jupyterhub_cookie_secret")

# One systemd unit per student, with limits the kernel enforces. A student running the course measures about
# 520 MB (benchmarks/student_cost.py: kernel after notebook 01 plus the Jupyter server); 700 MB leaves room for
# a second notebook's tensors. One core caps a student who runs a long loop; most of the time each uses little.
c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
c.SystemdSpawner.dynamic_users = True
c.SystemdSpawner.isolate_tmp = True
c.Spawner.mem_limit = "700M"
c.Spawner.cpu_limit = 1.0
c.Spawner.cmd = [str(ENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# Stop servers idle for an hour (the student's files stay; the next visit starts a fresh server).
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=3600"],
}]
