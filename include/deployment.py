"""The docker-compose deployment, run natively: PostgreSQL, Redis, the emulator and every Airflow component.

``make itest`` (``tests/itest``) uses this to prove what ``dag.test()`` cannot: the scheduler decides, a Celery
worker executes, the triggerer holds the deferred Bedrock waits, and tasks talk to the API server. Docker is not
needed: everything is derived from ``docker-compose.yaml`` (read with :mod:`include.compose`), so the compose
file stays the single description of the deployment:

* **servers**: PostgreSQL and Redis from Debian packages whose versions match the compose images
  (``postgres:15-bookworm`` is Debian bookworm's ``postgresql-15``); installed with apt-get when absent and
  this process is root. The database, user and password are the ``postgres`` service's ``POSTGRES_*``.
* **environment**: ``docker/airflow.env`` plus each service's ``environment:``, with only what depends on
  where things run translated: compose hostnames (``postgres``, ``redis``, ``aws``, ``airflow-apiserver``)
  become ``127.0.0.1:<free port>``, container paths become the repository (bind-mounted sources) or this
  deployment's home (logs, named volumes), and the ports containers do not share (API, health check, log
  servers) get free ports. :data:`NATIVE_ONLY_KEYS` lists the settings added that way.
* **commands**: the ``airflow-init`` script's commands (minus ``chown``, which maps container user ids), then
  each long-running Airflow service's own command (``airflow api-server``, ``airflow celery worker``, ...).

Every process runs in its own process group and is stopped by process id, also when starting fails.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from include import apt
from include.airflow_local import all_healthy, api_health, free_port
from include.compose import (
    PROJECT_DIR,
    ROOT,
    airflow_env,
    as_argv,
    environment,
    service_argvs,
    services,
)

INIT_SERVICE = "airflow-init"
API_SERVICE = "airflow-apiserver"
WORKER_SERVICE = "airflow-worker"
EMULATOR_SERVICE = "aws"
DATABASE_SERVICE = "postgres"
BROKER_SERVICE = "redis"
#: Where a compose service listens inside its container (the emulator's port is read from its command).
CONTAINER_PORTS = {DATABASE_SERVICE: 5432, BROKER_SERVICE: 6379, API_SERVICE: 8080}
#: Bind-mounted directories that hold output, not sources: natively they live in the deployment's home.
RUNTIME_MOUNTS = {"logs"}
#: Init commands not run natively: ``chown`` maps container user ids; ``set`` is a shell option.
SKIPPED_INIT_COMMANDS = {"chown", "set"}
#: Settings a native run adds because processes share one host: ports and paths. They must not be set in
#: docker/airflow.env or in compose (a test checks), so nothing compose says is overridden.
NATIVE_ONLY_KEYS = (
    "AIRFLOW_HOME",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__PLUGINS_FOLDER",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER",
    "AIRFLOW__API__HOST",
    "AIRFLOW__API__PORT",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
)
STOP_GRACE_SECONDS = 20.0
KILL_GRACE_SECONDS = 10.0
APT_PACKAGES = {DATABASE_SERVICE: "postgresql-{version}", BROKER_SERVICE: "redis-server"}


class DeploymentUnavailable(RuntimeError):
    """PostgreSQL or Redis is missing and cannot be installed here (no apt-get, or not root)."""


class ServerVersionMismatch(RuntimeError):
    """The installed PostgreSQL or Redis is not the version of the compose image: the native run would drift."""


# --------------------------------------------------------------------------------------------------
# What compose says, translated for one host
# --------------------------------------------------------------------------------------------------


def airflow_services() -> list[str]:
    """The long-running Airflow components: services that run ``airflow <command>`` and restart."""
    names = []
    for name, service in services().items():
        argvs = service_argvs(service)
        if name == INIT_SERVICE or len(argvs) != 1 or Path(argvs[0][0]).name != "airflow":
            continue
        if service.get("restart") in ("always", "unless-stopped"):
            names.append(name)
    return names


def image_version(service: str) -> str:
    """The version in a service's image tag: ``postgres:15-bookworm`` -> ``15``, ``redis:7.0-bookworm`` -> ``7.0``."""
    image = services()[service]["image"]
    tag = image.rsplit(":", 1)[1] if ":" in image else ""
    match = re.match(r"\d+(\.\d+)*", tag)
    if not match:
        raise ValueError(f"docker-compose.yaml: the {service} image {image!r} has no version tag")
    return match.group()


def emulator_container_port() -> int:
    argv = as_argv(services()[EMULATOR_SERVICE]["command"])
    return int(argv[argv.index("--port") + 1])


@dataclass
class Layout:
    """Where a native deployment puts what compose gives separate containers and volumes."""

    home: Path
    ports: dict[str, int]  # compose service -> native port (postgres, redis, aws, airflow-apiserver)
    scheduler_health_port: int
    worker_log_port: int
    trigger_log_port: int
    host: str = "127.0.0.1"

    def translate(self, value: str) -> str:
        """A compose value with hostnames and container paths replaced by their native counterparts."""

        def host(match: re.Match) -> str:
            return f"{match['pre']}{self.host}:{self.ports[match['name']]}"

        names = "|".join(re.escape(name) for name in sorted(self.ports, key=len, reverse=True))
        value = re.sub(rf"(?P<pre>//|@)(?P<name>{names})(?::\d+)?(?=[/:?\"'}}]|$)", host, value)
        for container, native in self.paths():
            value = re.sub(rf"{re.escape(container)}(?=/|$|:)", str(native), value)
        return value

    def paths(self) -> list[tuple[str, Path]]:
        """(container path, native path) pairs, longest container path first."""
        pairs: dict[str, Path] = {PROJECT_DIR: ROOT}
        for service in services().values():
            for volume in service.get("volumes", []):
                source, target = str(volume).split(":")[:2]
                if not target.startswith(PROJECT_DIR + "/"):
                    continue  # e.g. the postgres data volume: the native server has its own data directory
                name = source.removeprefix("./").rstrip("/")
                if source.startswith("./") and name not in RUNTIME_MOUNTS:
                    pairs[target] = ROOT / name
                else:
                    pairs[target] = self.home / Path(target).name
        return sorted(pairs.items(), key=lambda pair: len(pair[0]), reverse=True)

    def native_only(self) -> dict[str, str]:
        values = {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": self.translate(f"{PROJECT_DIR}/dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": self.translate(f"{PROJECT_DIR}/plugins"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": self.translate(f"{PROJECT_DIR}/logs"),
            "AIRFLOW__API__HOST": self.host,
            "AIRFLOW__API__PORT": str(self.ports[API_SERVICE]),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.scheduler_health_port),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.worker_log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.trigger_log_port),
        }
        assert set(values) == set(NATIVE_ONLY_KEYS)
        return values

    def service_env(self, name: str, overrides: dict[str, str] | None = None) -> dict[str, str]:
        """The Airflow settings of compose service ``name`` on this host: env file, then the service's
        ``environment:`` (translated), then :meth:`native_only`, then ``overrides``."""
        env = dict(airflow_env())
        for key, value in environment(services()[name]).items():
            if value is not None:  # None: passed through from the host when set there, as compose does
                env[key] = self.translate(value)
        env.update(self.native_only())
        env.update(overrides or {})
        return env

    def service_argv(self, name: str) -> list[str]:
        """The command of a long-running Airflow service, run with this venv's ``airflow``."""
        (argv,) = service_argvs(services()[name])
        return [str(Path(sys.executable).with_name("airflow")), *argv[1:]]

    def init_argvs(self) -> list[list[str]]:
        """The ``airflow-init`` script's commands, translated, without :data:`SKIPPED_INIT_COMMANDS`."""
        commands = []
        for argv in service_argvs(services()[INIT_SERVICE]):
            if Path(argv[0]).name in SKIPPED_INIT_COMMANDS:
                continue
            argv = [self.translate(arg) for arg in argv]
            if argv[0] == "airflow":
                argv[0] = str(Path(sys.executable).with_name("airflow"))
            elif re.fullmatch(r"python(3(\.\d+)?)?", argv[0]):
                argv[0] = sys.executable
            commands.append(argv)
        return commands


def clean_environ() -> dict[str, str]:
    """This process's environment without Airflow settings, so children see only the deployment's."""
    drop = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k != "AIRFLOW_HOME"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return env


# --------------------------------------------------------------------------------------------------
# PostgreSQL and Redis from Debian packages
# --------------------------------------------------------------------------------------------------


def _postgres_bin(version: str) -> Path | None:
    path = Path(f"/usr/lib/postgresql/{version}/bin")
    return path if (path / "postgres").exists() else None


def _redis_version() -> str | None:
    binary = shutil.which("redis-server")
    if not binary:
        return None
    out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    match = re.search(r"v=(\d+\.\d+)", out)
    return match.group(1) if match else None


def ensure_servers(echo=print) -> None:
    """Make sure the PostgreSQL and Redis versions of the compose images are installed (apt-get if absent)."""
    pg_version, redis_version = image_version(DATABASE_SERVICE), image_version(BROKER_SERVICE)
    missing = []
    if _postgres_bin(pg_version) is None:
        missing.append(APT_PACKAGES[DATABASE_SERVICE].format(version=pg_version))
    if _redis_version() is None:
        missing.append(APT_PACKAGES[BROKER_SERVICE])
    if missing:
        try:
            apt.install(missing, echo)
        except apt.AptUnavailable as error:
            raise DeploymentUnavailable(f"{error} They run the native deployment.") from error
    if _postgres_bin(pg_version) is None:
        raise ServerVersionMismatch(
            f"PostgreSQL {pg_version} (image {services()[DATABASE_SERVICE]['image']}) "
            f"is not in /usr/lib/postgresql/{pg_version}/bin after installing."
        )
    found = _redis_version()
    if found != redis_version and not (found or "").startswith(redis_version + "."):
        raise ServerVersionMismatch(
            f"redis-server {found} is installed, but docker-compose.yaml runs {services()[BROKER_SERVICE]['image']}. "
            "Use matching versions, or change the image tag to the version the native test runs."
        )


def _as_postgres_user() -> dict:
    """Popen keywords that run a child as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return {}
    import pwd

    entry = pwd.getpwnam("postgres")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


@dataclass
class Server:
    """A server process in its own process group, with its output in ``log``."""

    name: str
    process: subprocess.Popen
    log: Path
    cleanup: list[Path] = field(default_factory=list)

    def stop(self, signum: int = signal.SIGTERM) -> None:
        stop_group(self.process, signum)
        for path in self.cleanup:
            shutil.rmtree(path, ignore_errors=True)


def _popen(argv: list[str], log: Path, env: dict[str, str], **kwargs) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            cwd=kwargs.pop("cwd", ROOT),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kwargs,
        )


def wait_for(
    what: str,
    check,
    timeout: float,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
    interval: float = 0.5,
):
    """``check()``'s first truthy result; raises when ``process`` exits (with ``log``'s tail) or on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with code {process.returncode}.\n{tail(log)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not ready after {timeout:.0f} s.\n{tail(log)}")
        time.sleep(interval)


def tail(path: Path | None, lines: int = 30) -> str:
    if path is None:
        return ""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"({error})"


def start_postgres(port: int, logs: Path) -> Server:
    """initdb a throwaway cluster with the compose ``postgres`` service's user, password and database."""
    settings = environment(services()[DATABASE_SERVICE])
    user, password, database = (
        settings["POSTGRES_USER"],
        settings["POSTGRES_PASSWORD"],
        settings["POSTGRES_DB"],
    )
    bindir = _postgres_bin(image_version(DATABASE_SERVICE))
    # Not under the caller's home: that may be in a root-only directory the postgres user cannot enter.
    base = Path(tempfile.mkdtemp(prefix="bedrock-itest-pg-"))
    data, pwfile = base / "data", base / "pwfile"
    pwfile.write_text(password + "\n")
    as_user = _as_postgres_user()
    if as_user:
        os.chown(base, as_user["user"], as_user["group"])
        os.chown(pwfile, as_user["user"], as_user["group"])
    env = {**clean_environ(), "LC_ALL": "C.UTF-8", "PGPASSWORD": password}
    subprocess.run(
        [str(bindir / "initdb"), "-D", str(data), "-U", user, f"--pwfile={pwfile}", "-E", "UTF8",
         "--auth-host=scram-sha-256", "--auth-local=trust", "--no-sync"],
        check=True, env=env, cwd=base, capture_output=True, **as_user,
    )  # fmt: skip
    log = logs / "postgres.log"
    process = _popen(
        [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(base),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"],
        log, env, cwd=base, **as_user,
    )  # fmt: skip
    server = Server(DATABASE_SERVICE, process, log, cleanup=[base])
    try:
        ready = [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", user]
        wait_for(
            "PostgreSQL", lambda: subprocess.run(ready, capture_output=True).returncode == 0, 60, process, log
        )
        create = [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user, database]
        subprocess.run(create, check=True, env=env, capture_output=True)
    except BaseException:
        server.stop()
        raise
    return server


def start_redis(port: int, logs: Path) -> Server:
    log = logs / "redis.log"
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = _popen(argv, log, clean_environ())
    server = Server(BROKER_SERVICE, process, log)
    ping = ["redis-cli", "-p", str(port), "ping"]
    try:
        wait_for(
            "Redis", lambda: b"PONG" in subprocess.run(ping, capture_output=True).stdout, 30, process, log
        )
    except BaseException:
        server.stop()
        raise
    return server


# --------------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------------


def _descendants(pid: int) -> list:
    import psutil

    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop_group(process: subprocess.Popen, signum: int = signal.SIGTERM) -> None:
    """Stop ``process``, its process group and every descendant (task processes may have groups of their
    own): ``signum`` first, SIGKILL for what is left after the grace period."""
    import psutil

    tree = _descendants(process.pid)
    for sig, grace in ((signum, STOP_GRACE_SECONDS), (signal.SIGKILL, KILL_GRACE_SECONDS)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        for member in tree:
            try:
                member.send_signal(sig)
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(tree, timeout=grace) if tree else ([], [])
        if process.poll() is None:
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        if not alive and process.poll() is not None:
            break
    if process.poll() is None:
        process.wait(timeout=KILL_GRACE_SECONDS)


@dataclass
class Deployment:
    """A running native deployment. ``stop()`` ends everything it started, by process id."""

    layout: Layout
    logs: Path
    servers: dict[str, Server] = field(default_factory=dict)
    components: dict[str, Server] = field(default_factory=dict)
    emulator: object | None = None  # include.local_stack.EmulatorProcess
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://{self.layout.host}:{self.layout.ports[API_SERVICE]}"

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.layout.host}:{self.layout.ports[EMULATOR_SERVICE]}"

    @property
    def broker_url(self) -> str:
        return self.layout.service_env(WORKER_SERVICE)["AIRFLOW__CELERY__BROKER_URL"]

    def env(self, name: str) -> dict[str, str]:
        return {**clean_environ(), **self.layout.service_env(name, self.overrides.get(name))}

    def pids(self) -> list[int]:
        """Every live process of the deployment, descendants included."""
        pids = []
        for server in [*self.servers.values(), *self.components.values()]:
            if server.process.poll() is None:
                pids.extend(p.pid for p in _descendants(server.process.pid))
        if self.emulator is not None and self.emulator.process.poll() is None:
            pids.append(self.emulator.process.pid)
        return pids

    def start_component(self, name: str, overrides: dict[str, str] | None = None) -> Server:
        """Start (or restart after :meth:`stop_component`) one long-running Airflow service."""
        if overrides is not None:
            self.overrides[name] = overrides
        old = self.components.get(name)
        if old is not None and old.process.poll() is None:
            raise RuntimeError(f"{name} is already running (pid {old.process.pid}).")
        log = self.logs / f"{name}.log"
        process = _popen(self.layout.service_argv(name), log, self.env(name))
        self.components[name] = Server(name, process, log)
        return self.components[name]

    def stop_component(self, name: str, signum: int = signal.SIGTERM) -> None:
        """Stop one component and all its processes; SIGKILL simulates losing the machine it runs on."""
        stop_group(self.components[name].process, signum)

    def health(self) -> dict | None:
        return api_health(self.api_url)

    def is_healthy(self) -> bool:
        return all_healthy(self.health())

    def worker_pings(self) -> list[str]:
        """Names of the Celery workers that answer a ping over the broker (the compose healthcheck's check)."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            return [name for reply in app.control.ping(timeout=2.0) or [] for name in reply]
        finally:
            app.close()

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Wait for the API server's health (database, scheduler, triggerer, dag processor) and a worker ping."""
        deadline = time.monotonic() + timeout

        def ready() -> bool:
            for server in self.components.values():
                if server.process.poll() is not None:
                    raise RuntimeError(
                        f"{server.name} exited with code {server.process.returncode}.\n{tail(server.log)}"
                    )
            return self.is_healthy() and bool(self.worker_pings())

        wait_for("the deployment", ready, max(1.0, deadline - time.monotonic()))

    def stop(self) -> None:
        """Stop the Airflow components, then the emulator, Redis and PostgreSQL. Idempotent."""
        for server in self.components.values():
            if server.process.poll() is None or _descendants(server.process.pid):
                server.stop()
        if self.emulator is not None:
            self.emulator.stop()
        for server in reversed(list(self.servers.values())):
            server.stop(signal.SIGINT)  # PostgreSQL: fast shutdown; Redis: like SIGTERM


def start(
    home: Path,
    emulator_env: dict[str, str] | None = None,
    overrides: dict[str, dict[str, str]] | None = None,
    echo=print,
) -> Deployment:
    """Start the compose deployment natively in ``home``; returns at once (``wait_ready()`` waits).

    ``overrides`` maps a compose service to extra settings for it (e.g. emulator timings). On any failure
    everything started so far is stopped before the exception propagates.
    """
    from include.local_stack import start_emulator

    ensure_servers(echo)
    home = Path(home).resolve()
    logs = home / "process-logs"
    layout = Layout(
        home=home,
        ports={
            DATABASE_SERVICE: free_port(),
            BROKER_SERVICE: free_port(),
            EMULATOR_SERVICE: free_port(),
            API_SERVICE: free_port(),
        },
        scheduler_health_port=free_port(),
        worker_log_port=free_port(),
        trigger_log_port=free_port(),
    )
    deployment = Deployment(layout=layout, logs=logs, overrides=dict(overrides or {}))
    try:
        echo(f"Starting PostgreSQL {image_version(DATABASE_SERVICE)}, Redis {image_version(BROKER_SERVICE)} "
             "and the AWS emulator…")  # fmt: skip
        deployment.servers[DATABASE_SERVICE] = start_postgres(layout.ports[DATABASE_SERVICE], logs)
        deployment.servers[BROKER_SERVICE] = start_redis(layout.ports[BROKER_SERVICE], logs)
        deployment.emulator = start_emulator(layout.ports[EMULATOR_SERVICE], env=emulator_env)
        for path in (home, *[native for _, native in layout.paths() if native.is_relative_to(home)]):
            path.mkdir(parents=True, exist_ok=True)
        echo(f"Running the {INIT_SERVICE} commands…")
        init_env = deployment.env(INIT_SERVICE)
        for argv in layout.init_argvs():
            result = subprocess.run(argv, cwd=ROOT, env=init_env, capture_output=True, text=True)
            with open(logs / f"{INIT_SERVICE}.log", "a") as out:
                out.write(f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}")
            if result.returncode != 0:
                raise RuntimeError(
                    f"{INIT_SERVICE}: `{' '.join(argv)}` failed ({result.returncode}):\n{result.stderr[-3000:]}"
                )
        echo(f"Starting {', '.join(airflow_services())}…")
        for name in airflow_services():
            deployment.start_component(name)
    except BaseException:
        deployment.stop()
        raise
    return deployment
