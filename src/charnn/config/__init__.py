"""Run configuration (see sections.py)."""

from charnn.config.sections import *  # noqa: F403  # the move alone; the next commit splits it
from charnn.config.sections import _require  # noqa: F401
