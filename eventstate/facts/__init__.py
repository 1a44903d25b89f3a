"""Facts: commands plus parsers, cached per host for the run."""

from eventstate.facts.base import (
    Fact,
    describe_fact,
    fact_not_collected,
    gather_fact,
    get_fact,
    get_facts,
)
from eventstate.facts.files import Directory, File, FindInFile, Sha256File
from eventstate.facts.server import (
    Arch,
    Command,
    DebPackages,
    LinuxDistribution,
    SystemdStatus,
    Users,
    Which,
)
from eventstate.facts.zfs import ZfsPools

__all__ = [
    "Arch",
    "Command",
    "DebPackages",
    "Directory",
    "Fact",
    "File",
    "FindInFile",
    "LinuxDistribution",
    "Sha256File",
    "SystemdStatus",
    "Users",
    "Which",
    "ZfsPools",
    "describe_fact",
    "fact_not_collected",
    "gather_fact",
    "get_fact",
    "get_facts",
]
