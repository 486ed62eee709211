import pytest

from harness.compare import Variant, default_variants, parse_variants
from harness.exceptions import SettingsError


def test_the_default_variants_are_the_reference_throttle_awss_advice_and_none():
    assert default_variants(2) == [
        Variant("reserved concurrency 2", 2, None),
        Variant("MaximumConcurrency 2", None, 2),
        Variant("no throttle", None, None),
    ]
    assert parse_variants("", 3) == default_variants(3)


def test_variants_are_parsed_from_a_short_spec():
    variants = parse_variants("reserved=1, reserved=4, maximum=2, reserved=2+maximum=2, none", 2)
    assert [(v.reserved_concurrency, v.maximum_concurrency) for v in variants] == [
        (1, None), (4, None), (None, 2), (2, 2), (None, None),
    ]  # fmt: skip
    assert variants[3].name == "reserved concurrency 2 + MaximumConcurrency 2"
    assert [v.throttled for v in variants] == [True, True, True, True, False]
    assert variants[3].slug == "reserved-concurrency-2-maximumconcurrency-2"


def test_a_variant_of_the_way_in_alone_keeps_the_topologys_throttle():
    variants = parse_variants("ingress=function,ingress=direct,reserved=1+ingress=direct", 2, (None, 3))
    assert [(v.reserved_concurrency, v.maximum_concurrency, v.ingress) for v in variants] == [
        (None, 3, "function"), (None, 3, "direct"), (1, None, "direct"),
    ]  # fmt: skip
    assert variants[1].name == "MaximumConcurrency 3, ingress direct"
    assert len({v.slug for v in variants}) == 3
    assert parse_variants("ingress=direct", 2)[0].reserved_concurrency == 2


@pytest.mark.parametrize("spec", ["reserved", "reserved=x", "min=2", "reserved=2+max=3", "ingress=lambda"])
def test_a_malformed_variant_says_what_is_expected(spec):
    with pytest.raises(SettingsError, match="expected reserved=N, maximum=N"):
        parse_variants(spec, 2)


def test_designs_are_variants_too_proxy_and_provisioned_pollers_unthrottled_unless_combined():
    variants = parse_variants("reserved=2,proxy,proxy+reserved=4,provisioned=2-20,provisioned=3", 2)
    assert [v.name for v in variants] == [
        "reserved concurrency 2", "RDS Proxy, no throttle", "RDS Proxy + reserved concurrency 4",
        "provisioned pollers 2-20", "provisioned pollers 3-200",
    ]  # fmt: skip
    assert [v.proxy for v in variants] == [False, True, True, False, False]  # one proxied: the others are not
    assert variants[1].reserved_concurrency is None and variants[2].reserved_concurrency == 4
    assert variants[3].pollers == (2, 20) and variants[3].reserved_concurrency is None
    assert all(v.proxy is None for v in parse_variants("reserved=1,none", 2))  # the backend as deployed


def test_the_designs_set_is_the_reference_awss_advice_the_proxy_alone_and_throttled_and_nothing():
    names = [v.name for v in parse_variants("designs", 2)]
    assert names == [
        "reserved concurrency 2", "MaximumConcurrency 2", "RDS Proxy, no throttle",
        "RDS Proxy + reserved concurrency 2", "no throttle",
    ]  # fmt: skip


def test_provisioned_pollers_with_maximum_concurrency_is_refused_as_aws_refuses_it():
    with pytest.raises(SettingsError, match="mutually exclusive"):
        parse_variants("provisioned=2-20+maximum=2", 2)


def test_the_recommendation_is_computed_from_the_runs():
    from harness.compare import recommendation

    results = [_result("r1", 1, True, 40.0), _result("r2", 2, True, 20.0), _result("r4", 4, False, 5.0, errors=3)]
    answer = recommendation(results)
    assert answer["variant"] == "r2" and "drained soonest" in answer["why"] and not answer["on_credit"]
    assert answer["highest_reserved_concurrency_that_held"] == 2
    assert recommendation([results[2]])["variant"] is None


def test_a_design_within_its_capacity_is_recommended_over_one_that_survived_on_burst_credit():
    from harness.compare import recommendation

    within, on_credit = _result("r1", 1, True, 60.0), _result("none", None, True, 10.0, peak=12.0)
    answer = recommendation([on_credit, within])
    assert answer["variant"] == "r1", "burst credit is not protection: the slower design that stayed within wins"
    alone = recommendation([on_credit])
    assert alone["variant"] == "none" and alone["on_credit"] and "survived on burst credit" in alone["why"]


def _result(name, reserved, passed, drain, errors=0, peak=4.0):
    from harness.evidence import BackendView

    class Result:
        variant = Variant(name, reserved, None)
        verdict = type("V", (), {"passed": passed, "lost": 0, "pending": 0, "duplicate_rows": 0,
                                 "drain_seconds": drain})()  # fmt: skip
        backend = BackendView("dynamodb", 5.0, "write units / s", peak, errors, burst_window_s=300.0)
        evidence = type("E", (), {"offered": None, "backend": backend})()

        def sentence(self):
            return f"{self.variant.name}: held"

    return Result()


def test_what_the_throttle_did_is_said_against_the_unthrottled_run():
    from harness.compare import what_the_throttle_did

    none = _result("no throttle", None, False, 16.7, errors=370, peak=23.0)
    one, two = (
        _result("reserved 1", 1, False, 8.6, errors=200, peak=11.0),
        _result("reserved 2", 2, False, 14, 258, 11.0),
    )
    said = what_the_throttle_did([one, two, none])
    assert said.startswith("Without a throttle the backend (5 write units / s) had 370 refused (refused work; peak 23)")
    assert "reserved 2: 258 refused (refused work; peak 11)" in said
    assert "cut the refusals to 54 to 70 % of the unthrottled run's, but none kept the backend within its 5" in said
    held = _result("reserved 1", 1, True, 30.0, errors=0, peak=5.0)
    assert "Within its capacity: reserved 1" in what_the_throttle_did([held, none])
    assert what_the_throttle_did([one, two]) is None  # nothing unthrottled to measure against
