"""Harness for the black-box suite: starts the real `todo` binary over HTTP on 127.0.0.1.

Every test that takes the `backend` fixture runs once per backend (TODO_BACKENDS, a comma list,
default "sqlite,postgres"). For PostgreSQL one throw-away cluster is started per session with
scripts/pg-test-server, and every server gets a fresh database.

Environment:
  TODO_BIN                  the binary (default build/todo, relative to the repository root);
                            copied once per session unless TODO_BIN_COPY=0
  TODO_BACKENDS             "sqlite,postgres" (default), "sqlite" or "postgres"
  TODO_BACKEND_FREE=skip    leave out the tests that take no backend (`make test` runs the two
                            backends as separate processes; only one of them runs those)
  TODO_TEST_TIMEOUT_SCALE   multiply every timeout (default 1; 3 when TODO_ASAN=1)
  TODO_ASAN=1               the binary is a sanitizer build: timeouts x3 unless scaled explicitly
  TODO_KEEP_PG=1            keep the PostgreSQL cluster directory after the session
  TODO_PG_TMPDIR            where cluster directories are made (default /tmp; must be searchable
                            by the "postgres" user when running as root)
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest
import requests

if os.environ.get("TODO_ASAN") == "1" and "TODO_TEST_TIMEOUT_SCALE" not in os.environ:
    os.environ["TODO_TEST_TIMEOUT_SCALE"] = "3"

import helpers  # noqa: E402  (reads TODO_TEST_TIMEOUT_SCALE at import)
from helpers import scaled, wait_until  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
PG_SCRIPT = REPO_ROOT / "scripts" / "pg-test-server"
ALL_BACKENDS = ("sqlite", "postgres")

# A fixed, obviously-fake secret of 48 characters for servers that are not testing secret handling.
TEST_JWT_SECRET = "blackbox-test-secret-0123456789abcdef0123456789ab"
# Shutdown drain used by test servers unless a test overrides it (keeps teardown bounded).
TEST_SHUTDOWN_TIMEOUT = 10
READY_TIMEOUT = 15.0  # seconds to wait for /health after start (scaled)

PASSTHROUGH_ENV = (
    "PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "LD_LIBRARY_PATH",
    "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "MSAN_OPTIONS", "TSAN_OPTIONS",
    "ASAN_SYMBOLIZER_PATH", "LLVM_SYMBOLIZER_PATH",
)
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGFPE, signal.SIGILL}
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer")


def selected_backends() -> list:
    raw = os.environ.get("TODO_BACKENDS", "sqlite,postgres")
    names = [b.strip().lower() for b in raw.split(",") if b.strip()]
    unknown = [b for b in names if b not in ALL_BACKENDS]
    if unknown or not names:
        raise pytest.UsageError(f"TODO_BACKENDS={raw!r}: choose from {','.join(ALL_BACKENDS)}")
    return list(dict.fromkeys(names))


def todo_bin_path() -> Path:
    p = Path(os.environ.get("TODO_BIN") or "build/todo")
    return p if p.is_absolute() else REPO_ROOT / p


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


class PgCluster:
    """A throw-away cluster driven by scripts/pg-test-server."""

    _names = itertools.count(1)

    def __init__(self, label: str = "session"):
        base = os.environ.get("TODO_PG_TMPDIR", "/tmp")
        self.dir = tempfile.mkdtemp(prefix=f"todo-pg-{label}-", dir=base)
        self.port: Optional[int] = None
        self.created: list = []  # databases made by create_database, in order

    def _run(self, *args, timeout: float = 120) -> str:
        try:
            cp = subprocess.run([str(PG_SCRIPT), *args], capture_output=True, text=True,
                                timeout=scaled(timeout))
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"pg-test-server {' '.join(args)} timed out after {e.timeout}s")
        if cp.returncode != 0:
            raise RuntimeError(f"pg-test-server {' '.join(args)} failed ({cp.returncode}):\n"
                               f"{cp.stdout}\n{cp.stderr}")
        return cp.stdout.strip()

    def start(self) -> int:
        self.port = int(self._run("start", self.dir).splitlines()[-1])
        return self.port

    def stop(self) -> None:
        """pg_ctl stop -m fast (the data directory is kept, `start` reuses the port)."""
        self._run("stop", self.dir)

    def is_running(self) -> bool:
        cp = subprocess.run([str(PG_SCRIPT), "status", self.dir], capture_output=True, timeout=30)
        return cp.returncode == 0

    def create_database(self, name: Optional[str] = None) -> str:
        name = name or f"todo_t{next(self._names):04d}"
        self._run("createdb", self.dir, name, timeout=60)
        self.created.append(name)
        return name

    def drop_databases(self, names: list) -> None:
        """DROP DATABASE … WITH (FORCE) each of names (one psql; absent ones are fine)."""
        if not names:
            return
        args = []
        for name in names:
            args += ["-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)']
        self._run("psql", self.dir, *args, timeout=120)

    def url(self, dbname: str) -> str:
        return f"postgresql://todo@127.0.0.1:{self.port}/{dbname}"

    def fresh_database_url(self) -> str:
        return self.url(self.create_database())

    def destroy(self) -> None:
        if os.environ.get("TODO_KEEP_PG") == "1":
            try:
                self.stop()
            finally:
                print(f"\nkept PostgreSQL cluster directory {self.dir}")
            return
        self._run("destroy", self.dir)


_session_pg: Optional[PgCluster] = None


@pytest.fixture(scope="session")
def pg_cluster():
    global _session_pg
    if not PG_SCRIPT.exists():
        pytest.fail(f"{PG_SCRIPT} is missing")
    cluster = PgCluster("session")
    try:
        cluster.start()
    except Exception as e:  # report once, clearly
        shutil.rmtree(cluster.dir, ignore_errors=True)
        pytest.fail(f"could not start the test PostgreSQL cluster: {e}")
    _session_pg = cluster
    yield cluster
    _session_pg = None
    cluster.destroy()


@pytest.fixture(scope="module", autouse=True)
def _drop_module_databases():
    """Drops the session cluster's databases a module made once its tests (and its servers,
    torn down before this) are done: every server gets a fresh database, 7 MB each, and a
    PostgreSQL run would otherwise leave some 200 of them (GBs written, then removed at the
    end) on a disk the other layers share."""
    mark = len(_session_pg.created) if _session_pg else 0
    yield
    if _session_pg is not None and not os.environ.get("TODO_KEEP_PG"):
        _session_pg.drop_databases(_session_pg.created[mark:])


@pytest.fixture
def private_pg():
    """A PostgreSQL cluster of the test's own (for tests that stop and restart the database)."""
    cluster = PgCluster("private")
    try:
        cluster.start()
    except Exception as e:
        shutil.rmtree(cluster.dir, ignore_errors=True)
        pytest.fail(f"could not start a private PostgreSQL cluster: {e}")
    yield cluster
    cluster.destroy()


# --------------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    pg: Optional[PgCluster] = None
    _n: itertools.count = field(default_factory=lambda: itertools.count(1))

    def fresh_database_url(self, tmp_dir: Path) -> str:
        if self.name == "postgres":
            return self.pg.fresh_database_url()
        path = Path(tmp_dir) / f"todo-{next(self._n)}.db"
        return "sqlite:///" + str(path.resolve())  # absolute path → sqlite:////abs/path.db


@pytest.fixture(scope="session", params=selected_backends())
def backend(request) -> Backend:
    if request.param == "postgres":
        return Backend("postgres", request.getfixturevalue("pg_cluster"))
    return Backend("sqlite")


@pytest.fixture(scope="session")
def todo_bin(tmp_path_factory) -> Path:
    """The binary under test. A private copy is taken at session start (TODO_BIN_COPY=0 to use
    it in place), so a rebuild during the run cannot swap or half-write the file under the tests."""
    p = todo_bin_path()
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(f"todo binary not found or not executable at {p} (build it with `make build`, "
                    f"or point TODO_BIN at it)", pytrace=False)
    if os.environ.get("TODO_BIN_COPY", "1") == "0":
        return p
    copy = tmp_path_factory.mktemp("bin") / p.name
    shutil.copy2(p, copy)
    return copy


def pytest_collection_modifyitems(config, items):
    """Tests marked postgres_only / sqlite_only run only with that backend (deselected otherwise);
    with TODO_BACKEND_FREE=skip, tests that take no backend are deselected too."""
    free = os.environ.get("TODO_BACKEND_FREE", "run")
    if free not in ("run", "skip"):
        raise pytest.UsageError(f"TODO_BACKEND_FREE={free!r}: choose run or skip")
    keep, drop = [], []
    for item in items:
        cs = getattr(item, "callspec", None)
        be = cs.params.get("backend") if cs else None
        if (item.get_closest_marker("postgres_only") and be != "postgres") or \
                (item.get_closest_marker("sqlite_only") and be != "sqlite") or \
                (free == "skip" and be is None):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# --------------------------------------------------------------------------------------------
# Environment for the binary
# --------------------------------------------------------------------------------------------


def base_env(workdir: Path, database_url: str, port: Optional[int] = None) -> dict:
    env = {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update({
        "HOME": str(workdir),
        "ENVIRONMENT": "development",
        "HOST": "127.0.0.1",
        "PORT": str(port or free_port()),
        "DATABASE_URL": database_url,
        "DATA_DIR": str(workdir / "var"),
        "JWT_SECRET": TEST_JWT_SECRET,
        "LOG_LEVEL": "INFO",
        "SHUTDOWN_TIMEOUT_SECONDS": str(TEST_SHUTDOWN_TIMEOUT),
        # generous, so that suites firing many requests never meet the limiter
        "RATE_LIMIT_PER_MINUTE": "100000",
    })
    return env


def apply_overrides(env: dict, overrides: Optional[dict]) -> dict:
    """Overrides with value None remove the variable."""
    env = dict(env)
    for k, v in (overrides or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


# --------------------------------------------------------------------------------------------
# A server process
# --------------------------------------------------------------------------------------------


class TodoServer:
    def __init__(self, binary: Path, env: dict, workdir: Path, name: str, args=("serve",)):
        self.binary = binary
        self.env = env
        self.workdir = workdir
        self.port = int(env["PORT"])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.stderr.log"
        self.stdout_path = workdir / f"{name}.stdout.log"
        self.args = list(args)
        self.proc: Optional[subprocess.Popen] = None
        self.killed = False  # we sent SIGKILL ourselves
        self.signalled = False  # a test sent a signal: exits are expected

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def data_dir(self) -> Path:
        return Path(self.env["DATA_DIR"])

    def start(self) -> "TodoServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as err, open(self.stdout_path, "ab") as out:
            self.proc = subprocess.Popen([str(self.binary), *self.args], env=self.env,
                                         cwd=str(self.workdir), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, start_new_session=True)
        return self

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_records(self):
        return helpers.parse_log_lines(self.logs())

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def get(self, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", scaled(5))
        return requests.get(self.url(path), **kw)

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", scaled(5))
        return requests.request(method, self.url(path), **kw)

    def wait_healthy(self, timeout: float = READY_TIMEOUT) -> bool:
        def ok():
            if not self.alive():
                raise ServerExited(self)
            try:
                return requests.get(self.url("/health"), timeout=scaled(1)).status_code == 200
            except requests.RequestException:
                return False
        return bool(wait_until(ok, scaled(timeout), interval=0.05, max_polls=5000))

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> Optional[int]:
        """Poll /ready until 200; returns the last status seen (None if never answered)."""
        last = {"status": None}

        def ok():
            try:
                r = requests.get(self.url("/ready"), timeout=scaled(2))
                last["status"] = r.status_code
                return r.status_code == 200
            except requests.RequestException:
                return False
        wait_until(ok, scaled(timeout), interval=0.1, max_polls=5000)
        return last["status"]

    def send_signal(self, sig: int) -> None:
        self.signalled = True
        if self.alive():
            self.proc.send_signal(sig)

    def wait_exit(self, timeout: float) -> Optional[int]:
        try:
            return self.proc.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = TEST_SHUTDOWN_TIMEOUT + 5) -> Optional[int]:
        """SIGTERM, then SIGKILL after `timeout` seconds. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.send_signal(signal.SIGTERM)
            if self.wait_exit(timeout) is None:
                self.killed = True
                self.proc.kill()
                self.proc.wait(timeout=30)
        return self.proc.returncode

    def crash_report(self) -> Optional[str]:
        """A description if the process crashed or a sanitizer complained, else None."""
        rc = self.proc.returncode if self.proc else None
        if rc is not None and rc < 0 and -rc in CRASH_SIGNALS:
            return f"server {self.args} died of signal {-rc} ({signal.Signals(-rc).name})"
        text = self.logs()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                return f"sanitizer report in server stderr ({marker!r})"
        return None

    def tail(self, n: int = 40) -> str:
        lines = self.logs().splitlines()
        return "\n".join(lines[-n:])


class ServerExited(Exception):
    def __init__(self, server: TodoServer):
        super().__init__(f"server exited with {server.proc.returncode} before becoming healthy; "
                         f"stderr:\n{server.tail()}")
        self.server = server


@dataclass
class ServerFactory:
    todo_bin: Path
    backend: Backend
    tmp_path: Path
    servers: list = field(default_factory=list)
    _n: itertools.count = field(default_factory=lambda: itertools.count(1))

    def new_database_url(self) -> str:
        return self.backend.fresh_database_url(self.tmp_path)

    def prepare(self, env: Optional[dict] = None, database_url: Optional[str] = None,
                data_dir: Optional[Path] = None, args=("serve",)) -> TodoServer:
        n = next(self._n)
        workdir = self.tmp_path / f"server{n}"
        workdir.mkdir(parents=True, exist_ok=True)
        e = base_env(workdir, database_url or self.new_database_url())
        if data_dir is not None:
            e["DATA_DIR"] = str(data_dir)
        e = apply_overrides(e, env)
        srv = TodoServer(self.todo_bin, e, workdir, f"server{n}", args=args)
        self.servers.append(srv)
        return srv

    def start(self, env: Optional[dict] = None, database_url: Optional[str] = None,
              data_dir: Optional[Path] = None, wait: bool = True) -> TodoServer:
        """Start `todo serve` on a free port and wait (bounded) for GET /health → 200."""
        database_url = database_url or self.new_database_url()
        last_err = None
        for _attempt in range(3):
            srv = self.prepare(env=env, database_url=database_url, data_dir=data_dir).start()
            if not wait:
                return srv
            try:
                if srv.wait_healthy():
                    return srv
                last_err = (f"server on port {srv.port} not healthy within "
                            f"{scaled(READY_TIMEOUT):.0f}s; stderr:\n{srv.tail()}")
                break
            except ServerExited as e:
                last_err = str(e)
                low = srv.logs().lower()
                if "in use" in low or "eaddrinuse" in low:
                    continue  # lost the race for the port: try another
                break
        pytest.fail(last_err, pytrace=False)

    def stop_all(self) -> list:
        problems = []
        for srv in self.servers:
            if srv.proc is None:
                continue
            try:
                srv.stop()
            except Exception as e:  # never leave processes behind
                problems.append(f"stopping server: {e}")
                try:
                    srv.proc.kill()
                except Exception:
                    pass
            report = srv.crash_report()
            if report:
                problems.append(f"{report}\n--- stderr tail ---\n{srv.tail()}")
        return problems


@pytest.fixture
def servers(request, todo_bin, backend, tmp_path):
    """Factory: servers.start(env={...}) → TodoServer; all are stopped at teardown."""
    factory = ServerFactory(todo_bin, backend, tmp_path)
    request.node.todo_servers = factory.servers
    yield factory
    problems = factory.stop_all()
    if problems:
        pytest.fail("server crashed or sanitizer reported:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def server(servers) -> TodoServer:
    """One running server with default test settings."""
    return servers.start()


# --------------------------------------------------------------------------------------------
# Running CLI commands
# --------------------------------------------------------------------------------------------


@dataclass
class CliResult:
    args: list
    returncode: Optional[int]
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return (f"`todo {' '.join(self.args)}` → rc={self.returncode} timed_out={self.timed_out}\n"
                f"stdout: {self.stdout[-2000:]!r}\nstderr: {self.stderr[-2000:]!r}")


@dataclass
class CliRunner:
    todo_bin: Path
    backend: Backend
    tmp_path: Path
    _n: itertools.count = field(default_factory=lambda: itertools.count(1))

    def env(self, overrides: Optional[dict] = None, database_url: Optional[str] = None) -> dict:
        workdir = self.tmp_path / f"cli{next(self._n)}"
        workdir.mkdir(parents=True, exist_ok=True)
        if database_url is None:
            database_url = self.backend.fresh_database_url(self.tmp_path)
        return apply_overrides(base_env(workdir, database_url), overrides)

    def run(self, *args, env: Optional[dict] = None, full_env: Optional[dict] = None,
            database_url: Optional[str] = None, timeout: float = 30) -> CliResult:
        e = full_env if full_env is not None else self.env(env, database_url)
        proc = subprocess.Popen([str(self.todo_bin), *args], env=e, cwd=e["HOME"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=scaled(timeout))
            timed_out = False
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate(timeout=30)
            timed_out = True
        res = CliResult(list(args), None if timed_out else proc.returncode,
                        out.decode(errors="replace"), err.decode(errors="replace"), timed_out)
        if not timed_out and proc.returncode < 0 and -proc.returncode in CRASH_SIGNALS:
            pytest.fail(f"CLI crashed: {res.describe()}", pytrace=False)
        for marker in SANITIZER_MARKERS:
            if marker in res.stderr:
                pytest.fail(f"sanitizer report from CLI: {res.describe()}", pytrace=False)
        return res


@pytest.fixture
def cli(todo_bin, backend, tmp_path) -> CliRunner:
    return CliRunner(todo_bin, backend, tmp_path)


# --------------------------------------------------------------------------------------------
# Reporting: attach the server's stderr to failures
# --------------------------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("call", "setup"):
        for i, srv in enumerate(getattr(item, "todo_servers", []) or []):
            rep.sections.append((f"todo server {i + 1} stderr (last 40 lines)", srv.tail()))
