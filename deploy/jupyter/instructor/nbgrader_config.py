"""nbgrader settings of an instructor's server: the ownership check of ``collect``.

nbgrader's ``collect`` warns when a submission's folder is not owned by the Unix account named
like the student id it carries.  On The Littlest JupyterHub the id is the hub name and the
account ``jupyter-<hub name>`` (shortened when long), so the hub says how it names accounts
(COURSE_UNIX_ACCOUNTS, set by deploy/tljh/jupyterhub_config.d/25-course-accounts.py) and the
course's collector compares with that account (toychat/hub_accounts.py).  On Kubernetes every
pod runs as a bare uid of its own (deploy/values.yaml, "20-exchange-uids", which sets
COURSE_UNIX_ACCOUNTS=uid): the collector compares each folder's numeric owner with the uid the hub
recorded for the student, from ``uids.csv`` in the course directory, written by
``python -m toychat.lms_roster HUB_URL --uids uids.csv`` before each collect.  Without the
variable nbgrader's own check stays.
"""

import os

c = get_config()  # noqa: F821

ACCOUNTS = os.environ.get("COURSE_UNIX_ACCOUNTS", "")
if ACCOUNTS:
    c.ExchangeFactory.collect = "toychat.hub_accounts.OwnerCheckedCollect"
    c.OwnerCheckedCollect.accounts = ACCOUNTS
