"""Pure folds from events to the views of a deploy.

No I/O, no gevent, no State: each projection applies events to its own data
and hands out read-only views of it. The live State and a rebuild from disk
run this same code, so they cannot disagree.
"""

from projections.base import Projection, applies
from projections.host_meta import HostMeta, HostMetaProjection
from projections.host_results import HostResults, HostResultsProjection
from projections.host_sets import HostSetsProjection
from projections.limit import LimitProjection
from projections.operations import OperationMeta, OperationsProjection
from projections.run import RunProjection
from projections.stage import StageProjection
from projections.state_view import StateView, fold
from projections.views import ReadOnlyDict, ReadOnlyList, ReadOnlyRecord, ReadOnlySet
from projections.warnings import WarningsProjection

__all__ = [
    "HostMeta",
    "HostMetaProjection",
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
    "StateView",
    "WarningsProjection",
    "applies",
    "fold",
]
