"""Fixtures shared by the generator tests."""

import pytest


@pytest.fixture(scope="module")
def tiny_train(sample_frame, schema):
    return sample_frame[[c.name for c in schema.modelled_columns]].head(400).reset_index(drop=True)
