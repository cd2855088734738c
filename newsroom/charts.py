"""Server-rendered bar charts for the editors' dashboard: the geometry of each bar computed
here, drawn as SVG by a template (no JavaScript), with the numbers also given as a table."""

from dataclasses import dataclass

WIDTH = 640
ROW_HEIGHT = 26
LABEL_WIDTH = 220
VALUE_WIDTH = 90
COLUMN_HEIGHT = 180
AXIS_HEIGHT = 36
# Labels longer than this are cut in the drawing; the table beside it has them in full.
LABEL_CHARS = 32


@dataclass(frozen=True)
class Point:
    """One category or day: `drawn` sizes the bar (0 when the count is suppressed, so the
    length cannot reveal what "<k" hides); `text` is what people read."""

    label: str
    drawn: float
    text: str


@dataclass(frozen=True)
class Bar:
    label: str
    short_label: str
    text: str
    x: str
    y: str
    width: str
    height: str
    label_x: str
    label_y: str
    text_x: str
    text_y: str


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    description: str
    label_header: str
    value_header: str
    horizontal: bool
    bars: list[Bar]
    width: int
    height: int
    empty_text: str = "Nothing released yet."

    @property
    def is_empty(self) -> bool:
        return not self.bars


def _num(value: float) -> str:
    # SVG wants a dot whatever the locale, and one decimal is finer than a pixel.
    return f"{value:.1f}"


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def horizontal_bars(
    *, slug: str, title: str, description: str, label_header: str, value_header: str, points
) -> Chart:
    """One row per category, bars growing to the right, longest for the largest value."""
    points = list(points)
    top = max((p.drawn for p in points), default=0) or 1
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = []
    for row, point in enumerate(points):
        y = row * ROW_HEIGHT + 4
        length = plot * max(point.drawn, 0) / top
        bars.append(
            Bar(
                label=point.label,
                short_label=_short(point.label),
                text=point.text,
                x=_num(LABEL_WIDTH),
                y=_num(y),
                width=_num(length),
                height=_num(ROW_HEIGHT - 8),
                label_x=_num(LABEL_WIDTH - 8),
                label_y=_num(y + ROW_HEIGHT / 2),
                text_x=_num(LABEL_WIDTH + length + 6),
                text_y=_num(y + ROW_HEIGHT / 2),
            )
        )
    return Chart(
        slug=slug,
        title=title,
        description=description,
        label_header=label_header,
        value_header=value_header,
        horizontal=True,
        bars=bars,
        width=WIDTH,
        height=max(len(points), 1) * ROW_HEIGHT + 8,
    )


def columns(
    *, slug: str, title: str, description: str, label_header: str, value_header: str, points
) -> Chart:
    """One column per day, oldest on the left, the day written under each column."""
    points = list(points)
    top = max((p.drawn for p in points), default=0) or 1
    slot = WIDTH / max(len(points), 1)
    bars = []
    for index, point in enumerate(points):
        height = (COLUMN_HEIGHT - 20) * max(point.drawn, 0) / top
        x = index * slot + slot * 0.15
        bars.append(
            Bar(
                label=point.label,
                short_label=_short(point.label),
                text=point.text,
                x=_num(x),
                y=_num(COLUMN_HEIGHT - height),
                width=_num(slot * 0.7),
                height=_num(height),
                label_x=_num(index * slot + slot / 2),
                label_y=_num(COLUMN_HEIGHT + 16),
                text_x=_num(index * slot + slot / 2),
                text_y=_num(COLUMN_HEIGHT - height - 4),
            )
        )
    return Chart(
        slug=slug,
        title=title,
        description=description,
        label_header=label_header,
        value_header=value_header,
        horizontal=False,
        bars=bars,
        width=WIDTH,
        height=COLUMN_HEIGHT + AXIS_HEIGHT,
    )
