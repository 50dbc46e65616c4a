"""Configuration: bad values exit 2 naming the variable; the development secret file; the
README's configuration table is the binary's own (`todo config table --markdown`)."""

import difflib
import os
import re
import stat
import subprocess

import pytest
import requests

from conftest import REPO_ROOT
from helpers import scaled

SHORT_SECRET = "tooshort10"  # 10 characters

# (id, overrides, variables that must be named on stderr — any one of a tuple)
BAD_CONFIGS = [
    ("log-level-LOUD", {"LOG_LEVEL": "LOUD"}, ["LOG_LEVEL"]),
    ("production-short-secret", {"ENVIRONMENT": "production", "JWT_SECRET": SHORT_SECRET},
     [("JWT_SECRET", "BETTER_AUTH_SECRET")]),
    ("production-short-better-auth-secret",
     {"ENVIRONMENT": "production", "JWT_SECRET": None, "BETTER_AUTH_SECRET": SHORT_SECRET},
     [("JWT_SECRET", "BETTER_AUTH_SECRET")]),
    ("production-no-secret", {"ENVIRONMENT": "production", "JWT_SECRET": None, "BETTER_AUTH_SECRET": None},
     [("JWT_SECRET", "BETTER_AUTH_SECRET")]),
    ("port-0", {"PORT": "0"}, ["PORT"]),
    ("port-70000", {"PORT": "70000"}, ["PORT"]),
    ("port-not-a-number", {"PORT": "eighty"}, ["PORT"]),
    ("cors-not-a-url", {"CORS_ORIGINS": "notaurl"}, ["CORS_ORIGINS"]),
    ("cors-ftp-scheme", {"CORS_ORIGINS": "http://ok.example,ftp://files.example"}, ["CORS_ORIGINS"]),
    ("database-mysql", {"DATABASE_URL": "mysql://x"}, ["DATABASE_URL"]),
    ("environment-unknown", {"ENVIRONMENT": "prod-ish"}, ["ENVIRONMENT"]),
    ("pool-size-0", {"DATABASE_POOL_SIZE": "0"}, ["DATABASE_POOL_SIZE"]),
    ("max-overflow-negative", {"DATABASE_MAX_OVERFLOW": "-1"}, ["DATABASE_MAX_OVERFLOW"]),
    ("rate-limit-not-a-number", {"RATE_LIMIT_PER_MINUTE": "lots"}, ["RATE_LIMIT_PER_MINUTE"]),
    ("shutdown-timeout-not-a-number", {"SHUTDOWN_TIMEOUT_SECONDS": "soon"}, ["SHUTDOWN_TIMEOUT_SECONDS"]),
    ("max-body-not-a-number", {"MAX_BODY_BYTES": "big"}, ["MAX_BODY_BYTES"]),
    ("jwt-expiration-not-a-number", {"JWT_EXPIRATION_DAYS": "week"}, ["JWT_EXPIRATION_DAYS"]),
]


def _named(stderr: str, want) -> bool:
    names = want if isinstance(want, tuple) else (want,)
    return any(n in stderr for n in names)


@pytest.mark.parametrize("overrides,must_name", [(o, n) for _, o, n in BAD_CONFIGS],
                         ids=[i for i, _, _ in BAD_CONFIGS])
def test_serve_with_bad_config_exits_2_naming_the_variable(cli, overrides, must_name):
    r = cli.run("serve", env=overrides, timeout=15)
    assert not r.timed_out, f"`todo serve` with {overrides} kept running instead of exiting 2"
    assert r.returncode == 2, r.describe()
    for want in must_name:
        assert _named(r.stderr, want), f"stderr does not name {want}: {r.describe()}"


def test_secret_value_not_echoed_in_config_error(cli):
    r = cli.run("serve", env={"ENVIRONMENT": "production", "JWT_SECRET": SHORT_SECRET}, timeout=15)
    assert r.returncode == 2, r.describe()
    assert SHORT_SECRET not in r.output, f"the (bad) secret value was echoed: {r.describe()}"


def test_several_bad_variables_are_each_reported_on_their_own_line(cli):
    r = cli.run("serve", env={"LOG_LEVEL": "LOUD", "PORT": "70000", "CORS_ORIGINS": "notaurl"}, timeout=15)
    assert r.returncode == 2, r.describe()
    lines = r.stderr.splitlines()
    for var in ("LOG_LEVEL", "PORT", "CORS_ORIGINS"):
        assert any(var in line for line in lines), f"{var} not reported: {r.describe()}"
    for line in lines:
        named = [v for v in ("LOG_LEVEL", "PORT", "CORS_ORIGINS") if v in line]
        assert len(named) <= 1, f"{named} reported on one line (want one line per variable): {r.describe()}"


@pytest.mark.parametrize("url_kind", ["sqlite-relative", "postgres-scheme", "asyncpg-scheme"])
def test_accepted_database_url_forms_pass_config_check(cli, url_kind):
    url = {
        "sqlite-relative": "sqlite:///./var/relative.db",
        "postgres-scheme": "postgres://todo@127.0.0.1:5432/todo",
        "asyncpg-scheme": "postgresql+asyncpg://todo@127.0.0.1:5432/todo",
    }[url_kind]
    r = cli.run("config", "check", env={"DATABASE_URL": url})
    assert r.returncode == 0, f"DATABASE_URL={url} should be accepted: {r.describe()}"


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR"])
def test_each_documented_log_level_is_accepted(cli, level):
    r = cli.run("config", "check", env={"LOG_LEVEL": level})
    assert r.returncode == 0, r.describe()


@pytest.mark.parametrize("environment", ["development", "staging", "production"])
def test_each_documented_environment_is_accepted_with_a_strong_secret(cli, environment):
    r = cli.run("config", "check", env={"ENVIRONMENT": environment, "CORS_ORIGINS": "https://todo.example"})
    assert r.returncode == 0, r.describe()


def test_production_with_strong_secret_serves(servers):
    srv = servers.start(env={"ENVIRONMENT": "production", "CORS_ORIGINS": "https://todo.example"})
    assert srv.get("/health").status_code == 200


# ---------------------------------------------------------------------------------------------
# Development secret file
# ---------------------------------------------------------------------------------------------

NO_SECRET = {"ENVIRONMENT": "development", "JWT_SECRET": None, "BETTER_AUTH_SECRET": None}


def _secret_file_content(srv) -> str:
    path = srv.data_dir / "jwt-secret"
    assert path.is_file(), f"{path} was not created in development without a secret"
    return path.read_text()


@pytest.mark.parametrize("how", ["flag", "env"])
def test_web_role_needs_no_secret_in_production(servers, how):
    """The web role only serves the UI and proxies: it neither issues nor checks tokens."""
    env = {"ENVIRONMENT": "production", "JWT_SECRET": None, "BETTER_AUTH_SECRET": None,
           "API_URL": "http://127.0.0.1:9"}
    args = ["serve", "--role", "web"] if how == "flag" else ["serve"]
    if how == "env":
        env["ROLE"] = "web"
    srv = servers.prepare(env=env, args=args).start()
    assert srv.wait_healthy(), f"web role refused to start without a secret:\n{srv.tail()}"


def test_api_role_flag_still_requires_the_secret_in_production(cli):
    r = cli.run("serve", "--role", "api",
                env={"ENVIRONMENT": "production", "JWT_SECRET": None, "BETTER_AUTH_SECRET": None},
                timeout=15)
    assert r.returncode == 2 and "JWT_SECRET" in r.stderr, (r.returncode, r.stderr)


def test_dev_without_secret_generates_0600_secret_file_and_warns(servers):
    srv = servers.start(env=NO_SECRET)
    path = srv.data_dir / "jwt-secret"
    content = _secret_file_content(srv)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600, f"{path} has mode {oct(mode)}, want 0o600"
    assert len(content.strip()) >= 32, f"generated secret is only {len(content.strip())} characters"
    records, _ = srv.log_records()
    warnings = [r for r in records if str(r.get("level", "")).upper() in ("WARNING", "WARN")]
    assert warnings, f"no WARNING log line about the generated secret; stderr:\n{srv.tail()}"
    assert content.strip() not in srv.logs(), "the generated secret value appears in the logs"


def test_dev_secret_file_is_reused_on_second_start(servers, tmp_path):
    data_dir = tmp_path / "shared-data"
    url = servers.new_database_url()
    first = servers.start(env=NO_SECRET, data_dir=data_dir, database_url=url)
    content1 = _secret_file_content(first)
    rc = first.stop()
    assert rc == 0, f"first server exit code {rc}"
    second = servers.start(env=NO_SECRET, data_dir=data_dir, database_url=url)
    content2 = _secret_file_content(second)
    assert content1 == content2, "the secret file was regenerated instead of reused"
    assert requests.get(second.url("/health"), timeout=scaled(5)).status_code == 200


def test_configured_secret_does_not_create_secret_file(servers):
    srv = servers.start()  # JWT_SECRET is set by the harness
    assert not (srv.data_dir / "jwt-secret").exists(), \
        "a jwt-secret file was written although JWT_SECRET is configured"


def test_data_dir_defaults_to_var_in_working_directory(servers):
    srv = servers.start(env={**NO_SECRET, "DATA_DIR": None})
    path = srv.workdir / "var" / "jwt-secret"
    assert path.is_file(), f"with DATA_DIR unset the secret should be at ./var/jwt-secret ({path})"


def test_host_defaults_to_loopback_in_development(servers):
    srv = servers.start(env={"HOST": None})
    port_hex = f"{srv.port:04X}"
    listeners = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            f = line.split()
            local, state = f[1], f[3]
            if state == "0A" and local.endswith(":" + port_hex):  # 0A = LISTEN
                listeners.append((table, local))
    assert listeners, f"no listening socket found on port {srv.port}"
    for table, local in listeners:
        addr = local.split(":")[0]
        assert addr in ("0100007F", "00000000000000000000000001000000"), (
            f"with HOST unset in development the server listens on {local} ({table}), not only loopback")


README_TABLE = re.compile(r"<!-- config-table: generated[^\n]*-->\n(.*?)<!-- config-table: end -->", re.S)


def test_readme_configuration_table_is_generated_from_the_binary(todo_bin):
    """A setting added to the table in src/core/config.c is documented, and nothing else is:
    `make config-table` rewrites README.md's table from the binary."""
    out = subprocess.run([str(todo_bin), "config", "table", "--markdown"], capture_output=True,
                         text=True, timeout=scaled(10), check=True).stdout
    m = README_TABLE.search((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    assert m, "README.md has no config-table markers"
    diff = "".join(difflib.unified_diff(m.group(1).splitlines(True), out.splitlines(True),
                                        "README.md", "todo config table --markdown"))
    assert not diff, f"README.md's configuration table is stale; run `make config-table`:\n{diff}"
    names = re.findall(r"^\| `([A-Z_]+)` \|", out, re.M)
    assert len(names) == len(set(names)) >= 24
    check = subprocess.run([str(todo_bin), "config", "check"], capture_output=True, text=True,
                           timeout=scaled(10), env={"PATH": os.environ.get("PATH", "")})
    assert check.returncode == 0, check.stderr
    printed = re.findall(r"^([A-Z_]+)=", check.stdout, re.M)
    assert printed == names, "`config check` prints the table's settings, in its order"
