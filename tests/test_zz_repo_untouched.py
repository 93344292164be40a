"""Runs last (pytest runs files in name order): the suite wrote nothing into the repo's outputs/ or
data/ (tests write only into temporary folders)."""
from conftest import REPO_ROOT, REPO_SNAPSHOT, snapshot


def test_the_suite_wrote_nothing_into_outputs_or_data():
    assert snapshot(REPO_ROOT) == REPO_SNAPSHOT
