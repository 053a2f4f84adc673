"""The incident timeline picture drawn from its description: what each lane shows, the two kinds of axis, and
values from a journal or a file kept inside their text and attributes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runner.report import incident_svg as picture

T0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _picture(axis: picture.Axis, *, spans: list[picture.Span], points: bool = False) -> picture.Picture:
    return picture.Picture(
        title="Timeline of incident INC-1: <db> down",
        start=_at(0),
        end=_at(30),
        milestones=[
            picture.Mark(_at(0), "fault", "started", "started at 10:00"),
            picture.Mark(_at(5), "detect", "detected", "detected at 10:05"),
        ],
        lanes=[
            picture.StatusLane(
                "Status",
                [
                    picture.Status(_at(0), "investigating", "investigating", "#ef9a9a"),
                    picture.Status(_at(20), "resolved", "resolved", "#a5d6a7"),
                ],
            ),
            picture.SpanLane("Runbooks", spans, "no runbook ran"),
            picture.MomentLane(
                "Notes",
                [picture.Moment(_at(7), 'x" onload="y', "a note <b>", "#455a64")],
                picture.Shape.DOT if points else picture.Shape.DIAMOND,
            ),
        ],
        axis=axis,
        milestone_points=points,
    )


def test_wall_clock_axis_with_statuses_steps_and_moments() -> None:
    step = picture.Span(_at(6), None, "restart", "running", "restart: running", change=True)
    svg = picture.timeline_svg(_picture(picture.Axis(None, "from 10:00", "to 10:30", unit="UTC"), spans=[step]))
    assert svg.count('class="marker milestone') == 2 and 'class="marker fault-point"' not in svg
    assert 'class="marker status status-investigating"' in svg and 'class="marker status status-resolved"' in svg
    assert 'class="marker step change status-running"' in svg and "no runbook ran" not in svg
    assert '<path class="marker x-onload-y"' in svg and "a note &lt;b&gt;" in svg and "<b>" not in svg
    assert ">10:05<" in svg and ">UTC<" in svg and 'class="grid"' not in svg
    assert "&lt;db&gt; down" in svg


def test_offset_axis_with_a_grid_dots_and_milestone_points() -> None:
    axis = picture.Axis(T0, "first", "last", grid=True)
    svg = picture.timeline_svg(_picture(axis, spans=[], points=True))
    assert ">T+5m00s<" in svg and 'class="grid"' in svg and ">UTC<" not in svg
    assert '<circle class="marker x-onload-y"' in svg and 'class="marker detect-point"' in svg
    assert "no runbook ran" in svg
