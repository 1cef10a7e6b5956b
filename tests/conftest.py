import pytest

import shinsou


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state."""
    shinsou.backend.set_seed(0)
