"""Pure folds from events to the views of a deploy.

No I/O, no gevent, no State: each projection applies events to its own data
and hands out read-only views of it. The live State and a rebuild from disk
run this same code, so they cannot disagree.
"""

from eventstate.projections.abort import AbortCause, AbortCauseProjection, HostFailure
from eventstate.projections.base import Projection, applies
from eventstate.projections.host_meta import HostMeta, HostMetaProjection
from eventstate.projections.host_ops import ExecutedCommand, HostOp, HostOpsProjection
from eventstate.projections.host_results import HostResults, HostResultsProjection
from eventstate.projections.host_sets import HostSetsProjection
from eventstate.projections.limit import LimitProjection
from eventstate.projections.operations import OperationMeta, OperationsProjection
from eventstate.projections.run import RunProjection
from eventstate.projections.stage import StageProjection
from eventstate.projections.state_view import StateView, fold
from eventstate.projections.views import ReadOnlyDict, ReadOnlyList, ReadOnlyRecord, ReadOnlySet
from eventstate.projections.warnings import StageWarnings, WarningsProjection

__all__ = [
    "AbortCause",
    "AbortCauseProjection",
    "ExecutedCommand",
    "HostFailure",
    "HostMeta",
    "HostMetaProjection",
    "HostOp",
    "HostOpsProjection",
    "HostResults",
    "HostResultsProjection",
    "HostSetsProjection",
    "LimitProjection",
    "OperationMeta",
    "OperationsProjection",
    "Projection",
    "ReadOnlyDict",
    "ReadOnlyList",
    "ReadOnlyRecord",
    "ReadOnlySet",
    "RunProjection",
    "StageProjection",
    "StageWarnings",
    "StateView",
    "WarningsProjection",
    "applies",
    "fold",
]
