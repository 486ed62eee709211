from harness.report.charts import Series, histogram, limit_line, line_chart, time_ticks


def test_a_line_chart_draws_each_series_and_the_limit_dashed_and_underneath():
    chart = line_chart(
        "Concurrency",
        [Series("executions", [(0, 1), (5, 2)]), Series("limit", [(0, 2), (5, 2)], dashed=True)],
        "executions",
        [(3, "load ends")],
    )
    assert [line.dashed for line in chart.lines] == [True, False]  # the measured series on top
    assert [label for label, _ in chart.legend] == ["executions", "limit"]
    assert [(m.text, m.anchor) for m in chart.markers] == [("load ends", "start")]


def test_a_marker_near_the_right_edge_is_labelled_to_its_left_so_it_stays_in_the_picture():
    chart = line_chart("t", [Series("x", [(0, 1), (100, 2)])], "n", [(10, "outage"), (99, "load ends")])
    assert [(m.text, m.anchor, m.label_x < m.x) for m in chart.markers] == [
        ("outage", "start", False),
        ("load ends", "end", True),
    ]


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


def test_axes_are_labelled_on_round_values_a_reader_can_add_up():
    chart = line_chart("t", [Series("rss", [(0, 240.0), (70, 281.0)])], "MiB")
    assert [text for _, text in chart.y_ticks] == ["0", "100", "200", "300"]
    assert [text for _, text in chart.x_ticks] == ["0s", "15s", "30s", "45s", "60s"]
    small = line_chart("t", [Series("load", [(0, 0.0), (8, 0.4)])], "units")
    assert [text for _, text in small.y_ticks] == ["0", "0.1", "0.2", "0.3", "0.4", "0.5"]


def test_a_long_run_is_labelled_in_minutes():
    assert [text for _, text in time_ticks(1900)] == ["0 min", "10 min", "20 min", "30 min"]


def test_the_last_time_label_ends_at_the_right_edge_instead_of_running_past_it():
    from harness.report import _environment

    chart = line_chart("t", [Series("x", [(0, 1), (1800, 2)])], "n")
    page = _environment().from_string('{% from "_charts.html" import chart %}{{ chart(c) }}').render(c=chart)
    assert '<text x="750.0" y="202" class="tick" text-anchor="end">30 min</text>' in page
    assert 'text-anchor="middle">10 min</text>' in page
