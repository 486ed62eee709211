"""The environment is checked before a command starts anything."""

import pytest

from harness.exceptions import SettingsError
from harness.preflight import check_environment, check_free_space, check_writable


def test_a_folder_that_cannot_be_written_says_which_and_what_to_do(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(SettingsError, match=r"the state folder .*a-file/state cannot be written .*HARNESS_STATE_DIR"):
        check_writable(blocker / "state", "the state folder", "HARNESS_STATE_DIR")
    check_writable(tmp_path / "fine", "the state folder", "HARNESS_STATE_DIR")
    assert (tmp_path / "fine").is_dir() and list((tmp_path / "fine").iterdir()) == []  # nothing left behind


def test_a_disk_below_the_margin_says_how_much_is_free_and_what_to_change(tmp_path):
    with pytest.raises(SettingsError, match=r"only \d+ MiB free on the disk of .* below the \d+ MiB .*HARNESS_MIN"):
        check_free_space(tmp_path, 10**12, "HARNESS_MIN_FREE_DISK_MB")
    check_free_space(tmp_path, 0, "HARNESS_MIN_FREE_DISK_MB")


def test_the_reports_folder_is_checked_too_when_a_command_writes_runs(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(SettingsError, match="the reports folder"):
        check_environment(tmp_path / "state", 0, blocker / "reports")
