"""How The Littlest JupyterHub names each user's Unix account, for nbgrader's ownership check.

TLJH runs each user's server as an account of its own making, ``jupyter-`` and the hub name,
shortened with a hash when long (``toychat.hub_accounts.tljh_unix_name``), while the course keeps
the hub name (the LTI ``sub``) as the nbgrader id.  This tells every server so; the instructor's
role folder (deploy/jupyter/instructor/nbgrader_config.py) then makes ``nbgrader collect``
compare each submission's owner with the account TLJH made for the id it carries, instead of the
id itself, which would call every honest submission a cheating attempt.  TLJH only: on
Kubernetes every pod runs under the same user name (docs/deploying.md).
"""

c = get_config()  # noqa: F821

c.Spawner.environment.update({"COURSE_UNIX_ACCOUNTS": "tljh"})
