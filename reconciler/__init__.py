"""partnercenter-reconciler: declarative plan/apply for Partner Center product upgrades."""

__version__ = "0.1.0"
