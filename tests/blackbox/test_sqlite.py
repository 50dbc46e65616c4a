"""SQLite only: URL forms and the database file."""

import pytest

pytestmark = pytest.mark.sqlite_only


def test_relative_sqlite_url_is_relative_to_working_directory(servers):
    srv = servers.start(database_url="sqlite:///rel-dir-test.db")
    assert srv.wait_ready() == 200
    assert (srv.workdir / "rel-dir-test.db").exists(), \
        f"sqlite:///rel-dir-test.db did not create {srv.workdir / 'rel-dir-test.db'}"


def test_absolute_sqlite_url_creates_the_file(servers, tmp_path):
    path = tmp_path / "abs" / "todo.db"
    path.parent.mkdir()
    srv = servers.start(database_url="sqlite:///" + str(path))
    assert srv.wait_ready() == 200
    assert path.exists(), f"{path} was not created"
