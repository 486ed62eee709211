from datetime import UTC, datetime

from harness.localstack_extensions.cloudwatch import merge_datapoints

T = datetime(2026, 1, 1, 12, 0, 0, 400_000, tzinfo=UTC)
DIMS = [{"Name": "FunctionName", "Value": "f"}]


def test_identical_datapoints_of_one_second_become_one_entry_with_counts():
    metrics = [{"MetricName": "Invocations", "Dimensions": DIMS, "Timestamp": T, "Value": 1}] * 5
    metrics += [{"MetricName": "Errors", "Dimensions": DIMS, "Timestamp": T, "Value": 1}] * 2
    merged = {m["MetricName"]: m for m in merge_datapoints(metrics)}
    assert merged["Invocations"]["Values"] == [1] and merged["Invocations"]["Counts"] == [5]
    assert merged["Errors"]["Counts"] == [2]
    assert sum(sum(m["Counts"]) for m in merged.values()) == 7


def test_different_values_dimensions_and_seconds_stay_apart():
    later = T.replace(second=5)
    metrics = [
        {"MetricName": "Duration", "Dimensions": DIMS, "Timestamp": T, "Value": 3.0},
        {"MetricName": "Duration", "Dimensions": DIMS, "Timestamp": T, "Value": 4.0},
        {"MetricName": "Duration", "Dimensions": [], "Timestamp": T, "Value": 3.0},
        {"MetricName": "Duration", "Dimensions": DIMS, "Timestamp": later, "Value": 3.0},
    ]
    merged = merge_datapoints(metrics)
    assert len(merged) == 3
    assert sorted(merged[0]["Values"]) == [3.0, 4.0]


def test_datapoints_without_a_single_value_pass_through_untouched():
    aggregated = {
        "MetricName": "X",
        "StatisticValues": {"SampleCount": 2, "Sum": 3, "Minimum": 1, "Maximum": 2},
    }
    assert merge_datapoints([aggregated]) == [aggregated]
