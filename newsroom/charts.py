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


# --- A daily share with its 95% band ------------------------------------------------------

LINE_LEFT = 48
LINE_RIGHT = 12
LINE_TOP = 12
LINE_HEIGHT = 180


@dataclass(frozen=True)
class Tick:
    at: str
    text: str
    anchor: str = "middle"


@dataclass(frozen=True)
class LineRow:
    """One day of a line chart, as the table beside it reads it."""

    label: str
    text: str


@dataclass(frozen=True)
class ShareLine:
    """A share per day, from 0 to 100% on a fixed axis (no zoom that makes noise look like a
    trend), with its 95% band. Days without enough data break the line: `segments` and
    `bands` are SVG point lists, one per unbroken run of days."""

    slug: str
    title: str
    description: str
    label_header: str
    value_header: str
    segments: list[str]
    bands: list[str]
    dots: list[tuple[str, str]]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    rows: list[LineRow]
    width: int = WIDTH
    height: int = LINE_TOP + LINE_HEIGHT + AXIS_HEIGHT
    empty_text: str = "Nothing released yet."
    plot_left: int = LINE_LEFT
    plot_right: int = WIDTH - LINE_RIGHT
    plot_bottom: int = LINE_TOP + LINE_HEIGHT

    @property
    def is_empty(self) -> bool:
        return not self.segments


@dataclass(frozen=True)
class SharePoint:
    """One day: `share` and `margin` in [0, 1] units, or None when it is not shown."""

    label: str
    text: str
    share: float | None
    margin: float = 0.0


def _y(share: float) -> float:
    return LINE_TOP + LINE_HEIGHT * (1 - min(max(share, 0.0), 1.0))


def share_line(
    *, slug: str, title: str, description: str, label_header: str, value_header: str, points
) -> ShareLine:
    points = list(points)
    step = (WIDTH - LINE_LEFT - LINE_RIGHT) / max(len(points) - 1, 1)
    runs: list[list[tuple[float, SharePoint]]] = [[]]
    for index, point in enumerate(points):
        if point.share is None:
            runs.append([])
            continue
        runs[-1].append((LINE_LEFT + index * step, point))
    runs = [run for run in runs if run]
    segments, bands, dots = [], [], []
    for run in runs:
        segments.append(" ".join(f"{_num(x)},{_num(_y(p.share))}" for x, p in run))
        upper = [f"{_num(x)},{_num(_y(p.share + p.margin))}" for x, p in run]
        lower = [f"{_num(x)},{_num(_y(p.share - p.margin))}" for x, p in reversed(run)]
        # A lone day draws its band as a short bar around its dot.
        if len(run) == 1:
            (x, p), half = run[0], 3
            high, low = _num(_y(p.share + p.margin)), _num(_y(p.share - p.margin))
            upper = [f"{_num(x - half)},{high}", f"{_num(x + half)},{high}"]
            lower = [f"{_num(x + half)},{low}", f"{_num(x - half)},{low}"]
        bands.append(" ".join(upper + lower))
        dots.extend((_num(x), _num(_y(p.share))) for x, p in run)
    # A date under the first, the middle and the last day: enough to read the time span.
    marked = sorted({0, len(points) // 2, len(points) - 1}) if points else []
    return ShareLine(
        slug=slug,
        title=title,
        description=description,
        label_header=label_header,
        value_header=value_header,
        segments=segments,
        bands=bands,
        dots=dots,
        y_ticks=[Tick(at=_num(_y(s)), text=f"{round(100 * s)}%") for s in (0, 0.25, 0.5, 0.75, 1)],
        # The first and last dates stay inside the drawing.
        x_ticks=[
            Tick(
                at=_num(LINE_LEFT + i * step),
                text=points[i].label,
                anchor="start" if i == 0 else "end" if i == len(points) - 1 else "middle",
            )
            for i in marked
        ],
        rows=[LineRow(label=p.label, text=p.text) for p in points],
    )


# --- Estimates with their 95% intervals, around zero ---------------------------------------

INTERVAL_LABEL_WIDTH = 230
INTERVAL_ROW_HEIGHT = 34


@dataclass(frozen=True)
class IntervalRow:
    label: str
    short_label: str
    text: str
    low_x: str
    high_x: str
    value_x: str
    y: str
    label_y: str


@dataclass(frozen=True)
class Intervals:
    """Differences (in percentage points) drawn as a dot with its 95% interval, across a line
    at zero: an interval that crosses it is no evidence of a difference."""

    slug: str
    title: str
    description: str
    label_header: str
    value_header: str
    rows: list[IntervalRow]
    zero_x: str
    ticks: list[Tick]
    width: int
    height: int
    plot_top: str = "4.0"
    plot_bottom: str = "0.0"
    label_x: str = _num(INTERVAL_LABEL_WIDTH - 8)
    empty_text: str = "Not enough data yet."

    @property
    def is_empty(self) -> bool:
        return not self.rows


@dataclass(frozen=True)
class IntervalPoint:
    label: str
    text: str
    value: float | None
    low: float = 0.0
    high: float = 0.0


def intervals(
    *, slug: str, title: str, description: str, label_header: str, value_header: str, points
) -> Intervals:
    points = [p for p in points if p.value is not None]
    reach = max((max(abs(p.low), abs(p.high)) for p in points), default=0.0) or 1.0
    left, right = INTERVAL_LABEL_WIDTH, WIDTH - 16
    middle = (left + right) / 2

    def x(value: float) -> float:
        return middle + (right - left) / 2 * value / reach

    rows = []
    for index, point in enumerate(points):
        y = index * INTERVAL_ROW_HEIGHT + INTERVAL_ROW_HEIGHT / 2 + 4
        rows.append(
            IntervalRow(
                label=point.label,
                short_label=_short(point.label),
                text=point.text,
                low_x=_num(x(point.low)),
                high_x=_num(x(point.high)),
                value_x=_num(x(point.value)),
                y=_num(y),
                label_y=_num(y),
            )
        )
    plot_bottom = len(points) * INTERVAL_ROW_HEIGHT + 8
    return Intervals(
        slug=slug,
        title=title,
        description=description,
        label_header=label_header,
        value_header=value_header,
        rows=rows,
        zero_x=_num(middle),
        ticks=[
            Tick(at=_num(x(v)), text=f"{v:+.1f}" if v else "0")
            for v in (-reach, -reach / 2, 0.0, reach / 2, reach)
        ],
        width=WIDTH,
        height=plot_bottom + AXIS_HEIGHT,
        plot_bottom=_num(plot_bottom),
    )
