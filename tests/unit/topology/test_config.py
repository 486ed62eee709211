import pytest

from harness.exceptions import SettingsError
from harness.topology.config import FUNCTIONS_DIR, TopologySettings


def test_topology_defaults_are_the_reference_stack_plus_a_dlq():
    settings = TopologySettings.from_env({})
    assert (settings.table_name, settings.reserved_concurrency, settings.batch_size) == ("Messages", 2, 10)
    assert (settings.visibility_timeout_s, settings.max_receive_count) == (300, 5)
    assert settings.maximum_concurrency is None
    assert settings.warnings() == []


def test_the_default_functions_are_found_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = TopologySettings.from_env({})
    assert settings.publisher_dir == FUNCTIONS_DIR / "publisher" and (settings.publisher_dir / "app.py").is_file()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"HARNESS_SUBSCRIBER_TIMEOUT_S": "400"},
            r"subscriber_timeout_s=400: must not exceed visibility_timeout_s=300",
        ),
        ({"HARNESS_MAXIMUM_CONCURRENCY": "1"}, r"maximum_concurrency=1: expected 2-1000"),
        ({"HARNESS_MAXIMUM_CONCURRENCY": "1001"}, r"maximum_concurrency=1001: expected 2-1000"),
        ({"HARNESS_BATCH_SIZE": "0"}, r"batch_size=0: expected 1-10000"),
        ({"HARNESS_BATCH_SIZE": "11"}, r"batch_size=11: a batch size over 10 needs batching_window_s >= 1"),
        ({"HARNESS_RESERVED_CONCURRENCY": "-1"}, r"reserved_concurrency=-1: expected 0-900"),
        ({"HARNESS_MAX_RECEIVE_COUNT": "0"}, r"max_receive_count=0: expected 1-1000"),
        ({"HARNESS_QUEUE_NAME": "bad name!"}, r"queue_name='bad name!'.*not a valid SQS queue name"),
        ({"HARNESS_PUBLISHER_DIR": "/nonexistent"}, r"publisher_dir='/nonexistent': no /nonexistent/app.py"),
        (
            {"HARNESS_MINIMUM_POLLERS": "2", "HARNESS_MAXIMUM_CONCURRENCY": "2"},
            r"maximum_concurrency=2: provisioned pollers .* are mutually exclusive",
        ),
        ({"HARNESS_MINIMUM_POLLERS": "1"}, r"minimum_pollers=1: expected 2-200"),
        ({"HARNESS_MAXIMUM_POLLERS": "10001"}, r"maximum_pollers=10001: expected 2-10000"),
        (
            {"HARNESS_MINIMUM_POLLERS": "9", "HARNESS_MAXIMUM_POLLERS": "8"},
            r"minimum_pollers=9: must not exceed maximum_pollers",
        ),
    ],
)
def test_aws_rules_are_checked_before_anything_is_created(env, message):
    with pytest.raises(SettingsError, match=message):
        TopologySettings.from_env(env)


def test_the_error_names_the_variable_to_change():
    with pytest.raises(SettingsError, match=r"\(set --batch-size or HARNESS_BATCH_SIZE\)"):
        TopologySettings.from_env({"HARNESS_BATCH_SIZE": "20000"})


def test_a_large_batch_with_a_window_is_fine():
    assert TopologySettings.from_env({"HARNESS_BATCH_SIZE": "100", "HARNESS_BATCHING_WINDOW_S": "1"}).batch_size == 100


def test_risky_but_legal_choices_are_warnings():
    settings = TopologySettings.from_env(
        {
            "HARNESS_VISIBILITY_TIMEOUT_S": "30",
            "HARNESS_MAX_RECEIVE_COUNT": "2",
            "HARNESS_MAXIMUM_CONCURRENCY": "5",
        }
    )
    warnings = " | ".join(settings.warnings())
    assert "below 6 x subscriber_timeout_s" in warnings
    assert "max_receive_count=2 is below the 5 AWS advises" in warnings
    assert "maximum_concurrency=5 exceeds reserved_concurrency=2" in warnings


def test_the_runtime_follows_the_folder_unless_set(tmp_path):
    node, python = tmp_path / "node", tmp_path / "python"
    node.mkdir()
    python.mkdir()
    (node / "app.mjs").write_text("export const handler = async () => 1;")
    (python / "app.py").write_text("def handler(e, c): return 1")
    settings = TopologySettings.from_env({}).replace(subscriber_dir=node, publisher_dir=python)
    assert (settings.runtime("subscriber"), settings.runtime("publisher")) == ("nodejs22.x", "python3.11")
    assert settings.replace(subscriber_runtime="nodejs24.x").runtime("subscriber") == "nodejs24.x"
    assert not settings.problems()
    with pytest.raises(SettingsError, match=r"subscriber_dir=.*no .*node/app\.py, \.js, \.mjs or \.cjs"):
        settings.replace(subscriber_runtime="python3.11")


def test_the_node_subscriber_example_is_found_as_node():
    from harness.topology.config import FUNCTIONS_DIR

    settings = TopologySettings.from_env({}).replace(subscriber_dir=FUNCTIONS_DIR / "subscriber-node")
    assert settings.runtime("subscriber") == "nodejs22.x"


def test_provisioned_pollers_are_the_mappings_config_and_absent_in_standard_mode():
    assert TopologySettings.from_env({}).provisioned_pollers == {}
    assert TopologySettings.from_env({"HARNESS_MINIMUM_POLLERS": "4"}).provisioned_pollers == {"MinimumPollers": 4}
