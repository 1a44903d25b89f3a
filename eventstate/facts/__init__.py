"""Facts: commands plus parsers, cached per host for the run."""

from eventstate.facts.base import Fact, describe_fact, gather_fact, get_facts
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
    "describe_fact",
    "gather_fact",
    "get_facts",
]
