"""Rule files: the models, loading with line-precise errors, and compiling to a ``Policy``.

``load_policy(path)`` is what the commands use: the shipped reference policy
(``default_rules_path()``) with the site's rule file layered over it.
"""

from sensorhub.rules.loader import (
    RuleError,
    RuleFileError,
    default_rules_path,
    load_policy,
    load_rule_file,
)
from sensorhub.rules.paging import EspaConfig, PagingSystem
from sensorhub.rules.policy import Policy, RoomPolicy

__all__ = [
    "EspaConfig",
    "PagingSystem",
    "Policy",
    "RoomPolicy",
    "RuleError",
    "RuleFileError",
    "default_rules_path",
    "load_policy",
    "load_rule_file",
]
