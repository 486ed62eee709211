import pytest

from harness.exceptions import SettingsError
from harness.load.config import LoadSettings


def test_defaults_are_a_burst_of_twenty_paced_users():
    settings = LoadSettings.from_env({})
    assert (settings.shape, settings.users, settings.user_rps, settings.duration_s) == ("burst", 20, 2.0, 60)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HARNESS_SHAPE": "spiky"}, r"shape='spiky': expected one of steady, burst, soak"),
        ({"HARNESS_DUPLICATE_SHARE": "1.5"}, r"duplicate_share=1.5: expected 0-1"),
        ({"HARNESS_USERS": "0"}, r"users=0: expected >= 1"),
        ({"HARNESS_WORKERS": "65"}, r"workers=65: expected 0-64"),
    ],
)
def test_load_settings_are_bounded(env, message):
    with pytest.raises(SettingsError, match=message):
        LoadSettings.from_env(env)


def test_locust_style_durations_are_accepted():
    assert LoadSettings.from_env({"HARNESS_DURATION_S": "1h30m"}).duration_s == 5400
