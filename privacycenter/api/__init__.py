"""API of the privacy center: consents and their receipts, reading history, copies of one's
data (with re-authentication before download), account erasure, and the public policy
versions, one module each; their OpenAPI examples in `schema`. Every read and write goes
through privacy's selectors and services."""

from .consents import ConsentsApi  # noqa: F401
from .erasure import AccountEraseApi  # noqa: F401
from .exports import ExportDetailApi, ExportDownloadApi, ExportListApi, ReauthApi  # noqa: F401
from .history import HistoryApi, HistoryEntryApi  # noqa: F401
from .policies import PolicyDetailApi, PolicyListApi  # noqa: F401
