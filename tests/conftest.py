"""Fixtures shared by the core tests."""
import json

import pytest
from pchelpers import facts_doc


@pytest.fixture
def write_facts(tmp_path):
    def write(entities, name="facts.json", **kw):
        p = tmp_path / name
        p.write_text(json.dumps(facts_doc(entities, **kw)))
        return p
    return write
