from harness.report.charts import Series, histogram, limit_line, line_chart


def test_a_line_chart_draws_each_series_and_the_limit_dashed_and_underneath():
    chart = line_chart(
        "Concurrency",
        [Series("executions", [(0, 1), (5, 2)]), Series("limit", [(0, 2), (5, 2)], dashed=True)],
        "executions",
        [(3, "load ends")],
    )
    assert [line.dashed for line in chart.lines] == [True, False]  # the measured series on top
    assert [label for label, _ in chart.legend] == ["executions", "limit"]
    assert chart.markers and chart.markers[0][2] == "load ends"


def test_points_are_scaled_into_the_plot():
    chart = line_chart("x", [Series("s", [(0, 0), (10, 10)])], "y")
    (first, last) = [tuple(map(float, p.split(","))) for p in chart.lines[0].points.split()]
    assert first[0] < last[0] and first[1] > last[1]  # right and up


def test_empty_data_is_said_not_drawn():
    assert line_chart("Queue", [Series("x", [])], "messages").empty
    assert histogram("Latency", [], "ms").empty


def test_no_limit_draws_no_limit_line():
    assert limit_line("limit", None, [(0, 1), (4, 2)]).points == []
    assert limit_line("limit (2)", 2, [(0, 1), (4, 2)]).points == [(0, 2), (4, 2)]


def test_a_series_with_nothing_to_draw_has_no_legend_key():
    chart = line_chart("x", [Series("in use", [(0, 1), (1, 2)]), limit_line("capacity (on demand)", None, [])], "y")
    assert [label for label, _ in chart.legend] == ["in use"]
