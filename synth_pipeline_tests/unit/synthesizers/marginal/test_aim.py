"""AIM learns the strongest dependence of the data."""

import pytest

pytestmark = pytest.mark.integration


def test_sample_keeps_the_strongest_dependence(fitted):
    """Relationship 'Husband' implies sex 'Male' in the data; the model learned it."""
    out = fitted["aim"][0].sample(3000, seed=0)
    husbands = out[out["relationship"] == "Husband"]
    assert len(husbands) > 100 and (husbands["sex"] == "Male").mean() > 0.9
