"""The one import for tests: everything from net, backends, config_gen, procs and admin_api.

Standard library only. Every socket operation has a timeout and every loop is bounded, so a
wrong binary makes a test fail, never hang.
"""

from admin_api import *  # noqa: F401,F403
from backends import *  # noqa: F401,F403
from config_gen import *  # noqa: F401,F403
from datagrams import *  # noqa: F401,F403
from net import *  # noqa: F401,F403
from procs import *  # noqa: F401,F403
