"""Command line: version, help, usage errors, `config check`, `migrate`, `healthcheck`."""

import re
import socket

import pytest

from conftest import REPO_ROOT


def test_version_prints_a_version_line_and_exits_0(cli):
    r = cli.run("version")
    assert r.returncode == 0, r.describe()
    assert re.search(r"\d+\.\d+\.\d+", r.stdout), f"no version number on stdout: {r.describe()}"


def test_version_matches_VERSION_file(cli):
    expected = (REPO_ROOT / "VERSION").read_text().strip()
    r = cli.run("version")
    assert r.returncode == 0, r.describe()
    assert expected in r.stdout, f"VERSION file says {expected!r}; {r.describe()}"


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"]], ids=["todo--help", "serve--help"])
def test_help_prints_usage_and_exits_0(cli, args):
    r = cli.run(*args, timeout=15)
    assert not r.timed_out, f"`todo {' '.join(args)}` did not exit (did it start serving?)"
    assert r.returncode == 0, r.describe()
    assert "usage" in r.output.lower(), f"no usage text: {r.describe()}"


def test_top_level_help_lists_the_commands(cli):
    r = cli.run("--help")
    assert r.returncode == 0, r.describe()
    for cmd in ("serve", "migrate", "version", "healthcheck"):
        assert cmd in r.output, f"`todo --help` does not mention {cmd!r}: {r.describe()}"


@pytest.mark.parametrize("args", [["serve", "--bogus"], ["frobnicate"], ["--bogus"]],
                         ids=["serve--bogus", "unknown-command", "unknown-global-flag"])
def test_usage_errors_exit_2_with_usage_on_stderr(cli, args):
    r = cli.run(*args, timeout=15)
    assert not r.timed_out, f"`todo {' '.join(args)}` did not exit"
    assert r.returncode == 2, r.describe()
    assert "usage" in r.stderr.lower(), f"usage must be printed on stderr: {r.describe()}"


def test_config_check_valid_config_exits_0_and_prints_configuration(cli):
    r = cli.run("config", "check")
    assert r.returncode == 0, r.describe()
    assert "PORT" in r.output or "port" in r.output, f"effective configuration not printed: {r.describe()}"


def test_config_check_redacts_jwt_secret_and_database_password(cli):
    secret = "TopSecretJwtValue-ZZ9PluralZAlpha-1234567890"
    password = "Pa55wordInUrl-QQ77"
    url = f"postgresql://todo:{password}@127.0.0.1:5432/tododb"
    r = cli.run("config", "check", env={"JWT_SECRET": secret, "DATABASE_URL": url})
    assert r.returncode in (0, 2), r.describe()
    assert r.output.strip(), "config check printed nothing"
    assert secret not in r.output, f"JWT secret leaked by `config check`: {r.describe()}"
    assert password not in r.output, f"database password leaked by `config check`: {r.describe()}"


def test_config_check_redacts_better_auth_secret_alias(cli):
    secret = "BetterAuthSecretValue-Kx8Kx8Kx8Kx8Kx8Kx8Kx8Kx8"
    r = cli.run("config", "check", env={"JWT_SECRET": None, "BETTER_AUTH_SECRET": secret,
                                        "ENVIRONMENT": "production"})
    assert r.returncode == 0, f"BETTER_AUTH_SECRET must satisfy the production secret rule: {r.describe()}"
    assert secret not in r.output, f"BETTER_AUTH_SECRET leaked: {r.describe()}"


def test_config_check_bad_config_exits_2_naming_the_variable(cli):
    r = cli.run("config", "check", env={"LOG_LEVEL": "LOUD"})
    assert r.returncode == 2, r.describe()
    assert "LOG_LEVEL" in r.stderr, r.describe()


def test_migrate_exits_0(cli):
    r = cli.run("migrate", timeout=60)
    assert r.returncode == 0, r.describe()


def test_migrate_twice_is_idempotent(cli, backend, tmp_path):
    url = backend.fresh_database_url(tmp_path)
    first = cli.run("migrate", database_url=url, timeout=60)
    assert first.returncode == 0, f"first migrate: {first.describe()}"
    second = cli.run("migrate", database_url=url, timeout=60)
    assert second.returncode == 0, f"second migrate on the same database: {second.describe()}"


def test_server_with_migrate_on_start_false_is_ready_after_cli_migrate(cli, servers):
    url = servers.new_database_url()
    m = cli.run("migrate", database_url=url, timeout=60)
    assert m.returncode == 0, m.describe()
    srv = servers.start(database_url=url, env={"MIGRATE_ON_START": "false"})
    status = srv.wait_ready()
    assert status == 200, f"/ready → {status} with a migrated database and MIGRATE_ON_START=false"


def test_healthcheck_exits_0_when_endpoint_answers_200(cli, server):
    r = cli.run("healthcheck", "--url", server.url("/health"), timeout=20)
    assert r.returncode == 0, r.describe()
    # The line `helm test --logs` shows for the chart's test pods.
    assert f"healthcheck: {server.url('/health')} answered 200" in r.stdout, r.describe()


def test_healthcheck_non_zero_when_endpoint_answers_404(cli, server):
    r = cli.run("healthcheck", "--url", server.url("/no-such-endpoint"), timeout=20)
    assert not r.timed_out, r.describe()
    assert r.returncode != 0, f"healthcheck must fail on a 404: {r.describe()}"


def test_healthcheck_non_zero_when_nothing_listens(cli):
    # A port that was free a moment ago; keep a socket bound (not listening) so nobody takes it.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        r = cli.run("healthcheck", "--url", f"http://127.0.0.1:{port}/health", timeout=20)
    assert not r.timed_out, f"healthcheck hung against a closed port: {r.describe()}"
    assert r.returncode != 0, f"healthcheck must fail when nothing listens: {r.describe()}"
    assert r.returncode > 0, f"healthcheck crashed: {r.describe()}"


def test_healthcheck_against_ready_endpoint(cli, server):
    r = cli.run("healthcheck", "--url", server.url("/ready"), timeout=20)
    assert r.returncode == 0, f"/ready is 200 with a healthy database: {r.describe()}"



def test_healthcheck_default_url_uses_PORT(cli, server):
    env = cli.env({"PORT": str(server.port)})
    r = cli.run("healthcheck", full_env=env, timeout=20)
    assert r.returncode == 0, f"`todo healthcheck` without --url (PORT={server.port}): {r.describe()}"


def test_second_serve_on_a_port_in_use_exits_1_saying_address_in_use(cli, server):
    """A second `todo serve` on the port of a running one must not start: with SO_REUSEPORT it
    would bind too and take half of the traffic. It exits 1 with "address in use" on stderr, and
    the first server keeps every connection."""
    env = cli.env({"PORT": str(server.port)})
    r = cli.run("serve", full_env=env, timeout=20)
    assert not r.timed_out, f"a second `todo serve` on port {server.port} kept running: {r.describe()}"
    assert r.returncode == 1, r.describe()
    assert "address in use" in r.stderr.lower(), f"no clear reason on stderr: {r.describe()}"
    # Every connection still reaches the first server (no second listener took any).
    for _ in range(20):
        assert server.get("/health").status_code == 200
    assert server.alive()


def test_serve_on_an_ipv4_port_in_use_by_another_program_exits_1(cli):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = cli.run("serve", env={"PORT": str(port)}, timeout=20)
    assert not r.timed_out, r.describe()
    assert r.returncode == 1, r.describe()
    assert "address in use" in r.stderr.lower(), r.describe()
