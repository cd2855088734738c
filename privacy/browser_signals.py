"""Browser privacy signals: Global Privacy Control (`Sec-GPC: 1`) and Do Not Track (`DNT: 1`)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class BrowserSignals:
    gpc: bool = False
    dnt: bool = False

    @property
    def present(self) -> bool:
        return self.gpc or self.dnt

    @classmethod
    def from_headers(cls, headers) -> "BrowserSignals":
        # Only the exact value "1" counts; anything else is treated as absent.
        return cls(
            gpc=headers.get("Sec-GPC", "").strip() == "1",
            dnt=headers.get("DNT", "").strip() == "1",
        )


NO_SIGNALS = BrowserSignals()


def signals_for(request) -> BrowserSignals:
    return getattr(request, "privacy_signals", None) or BrowserSignals.from_headers(request.headers)
