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
