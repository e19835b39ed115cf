"""``make airflow``: the local AWS emulator and ``airflow standalone`` with this project's DAGs.

Open http://localhost:8080 (``--port`` or ``AIRFLOW_PORT``), log in as admin / admin, trigger ``bedrock_retraining`` from its form and watch
it run against the emulator. Ctrl-C stops Airflow and the emulator.

What it does, in order:

1. starts the emulator (``python -m include.local_aws``) on ``--emulator-port`` (``LOCAL_AWS_PORT``, default
   4566, any free port when that one is busy), with a 20 s customization job and a 10 s throughput unless
   ``LOCAL_AWS_JOB_SECONDS`` / ``LOCAL_AWS_THROUGHPUT_SECONDS`` say otherwise;
2. writes the SimpleAuthManager passwords file ``$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated``
   as ``{"admin": "<password>"}`` (``AIRFLOW_ADMIN_PASSWORD``, default ``admin``), so the login is known
   instead of generated;
3. ``airflow db migrate`` in ``AIRFLOW_HOME`` (default ``.airflow/``, shared with ``make run``);
4. bootstraps the landing zone in the emulator (``python -m include.bootstrap``: a week of sample data, and
   the demo model ``bedrock_model_import`` imports by default), stores its value as the Variable
   ``bedrock_customization`` and creates the pool ``bedrock_customization_jobs``;
5. runs ``airflow standalone`` (scheduler, dag-processor, triggerer, api-server; LocalExecutor, SQLite) in
   its own process group, in the foreground, with the ``aws_default`` connection pointing at the emulator.

``start()`` does the same without blocking and returns a ``Stack`` whose ``stop()`` ends, by process id and
process group, everything it started; the end-to-end test uses it.

Not ``docker/airflow.env``: that file configures the CeleryExecutor of the compose stack, while
``airflow standalone`` needs a local executor. The settings that matter here are in ``standalone_env``;
everything else in this process's environment reaches ``airflow standalone`` too, e.g.
``AIRFLOW__BEDROCK_CUSTOMIZATION__SWEEP_SCHEDULE=@daily make airflow`` (read when the DAG files are parsed,
so it cannot be set later).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from include.bootstrap import DEMO_MODEL_PREFIX
from include.local_stack import REGION, ROOT, EmulatorProcess, airflow_env, start_emulator

DAG_ID = "bedrock_retraining"
VARIABLE = "bedrock_customization"
POOL = "bedrock_customization_jobs"
POOL_DESCRIPTION = "Concurrent Amazon Bedrock model customization jobs"
ADMIN_USER = "admin"
DEFAULT_PORT = 8080
DEFAULT_EMULATOR_PORT = 4566
DEFAULT_HOME = ROOT / ".airflow"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
HEALTH_PATH = "/api/v2/monitor/health"
# Log servers of the scheduler (LocalExecutor) and the triggerer; moved to free ports when busy.
WORKER_LOG_PORT = 8793
TRIGGER_LOG_PORT = 8794
#: ``[bedrock_customization] sweep_schedule``: read when the DAG files are parsed, so set before the start.
SWEEP_SCHEDULE_ENV = "AIRFLOW__BEDROCK_CUSTOMIZATION__SWEEP_SCHEDULE"
# Emulator timings of `make airflow` (environment variables win): long enough to watch the deferred waits in
# the UI, and to keep clear of an Airflow 3.3.2 scheduler race when a trigger fires within seconds of the
# deferral (the stale executor event fails the resumed try, apache/airflow#67287, fixed after 3.3.2).
UI_EMULATOR_DEFAULTS = {"LOCAL_AWS_JOB_SECONDS": "20", "LOCAL_AWS_THROUGHPUT_SECONDS": "10"}
# How long the components get to shut down after SIGINT, and the group after SIGTERM, before SIGKILL.
STOP_GRACE_SECONDS = 20.0
KILL_GRACE_SECONDS = 10.0


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port`` and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def pick_port(preferred: int, host: str = "127.0.0.1") -> int:
    """``preferred`` if it is free, else any free port (0 also means any free port)."""
    return preferred if preferred and port_is_free(preferred, host) else free_port(host)


def api_health(api_url: str) -> dict | None:
    """The health document of the API server at ``api_url``, or None while it does not answer."""
    try:
        with urllib.request.urlopen(api_url + HEALTH_PATH, timeout=5) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def all_healthy(health: dict | None) -> bool:
    """Whether a health document reports every component (database, scheduler, triggerer, ...) healthy."""
    return bool(health) and all(
        isinstance(part, dict) and part.get("status") == "healthy" for part in health.values()
    )


def _local_host(host: str) -> str:
    """An address this machine can reach the API server at, for a server bound to ``host``."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "localhost") else host


def standalone_env(
    airflow_home: Path,
    endpoint_url: str,
    port: int = DEFAULT_PORT,
    host: str = "127.0.0.1",
    worker_log_port: int = WORKER_LOG_PORT,
    trigger_log_port: int = TRIGGER_LOG_PORT,
) -> dict[str, str]:
    """Environment of ``airflow standalone`` (and of the CLI calls before it) for this project.

    ``local_stack.airflow_env`` gives the home, DAGs and plugins folders, no examples, the provider's poll
    interval and the ``aws_default`` connection to the emulator; this adds what a UI run needs.
    """
    airflow_home = Path(airflow_home).resolve()
    venv_bin = str(Path(sys.executable).parent)
    env = airflow_env(airflow_home, endpoint_url)
    env.update(
        {
            # SQLite in this home, whatever the user's shell says: the stack must not touch another database.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # Sized for 2 cores: the long waits are deferred to the triggerer and take no executor slot.
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
            "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": "2",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            # New DAG files show up within seconds (default 300 s). An edited file is parsed again at once,
            # found by its modification time (file_parsing_sort_mode = modified_time, the default), so
            # unchanged files need no re-parse every 30 s (the default): each parse imports boto3 and the
            # providers again, about 1 CPU-second; at 15 s that kept a third of a core busy while idle.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",
            "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "5",
            "AIRFLOW__API__HOST": host,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__WORKERS": "1",
            # Task processes reach the Execution API here (the default assumes port 8080).
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{_local_host(host)}:{port}/execution/",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker_log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_log_port),
            # SimpleAuthManager (ships with airflow-core): user admin with role ADMIN, password from the file.
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / PASSWORDS_FILE),
            # `airflow standalone` starts its components as `airflow ...` from PATH: this venv's.
            "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "")]),
        }
    )
    return env


def write_passwords(airflow_home: Path, password: str) -> Path:
    """The SimpleAuthManager passwords file (JSON ``{user: password}``), readable by the owner only."""
    path = Path(airflow_home) / PASSWORDS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(json.dumps({ADMIN_USER: password}) + "\n")
    os.chmod(path, 0o600)
    return path


def _run_together(commands: dict[str, list[str]], env: dict[str, str]) -> dict[str, str]:
    """Run independent setup commands at the same time, with ``env`` on top of ours; their stdout by name.

    Raises with the tail of the output of the first that failed (after all have ended); on an interrupt
    the ones still running are killed by pid.
    """
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name, args in commands.items():
            processes[name] = subprocess.Popen(
                args,
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        results = {name: (process.communicate(), process.returncode) for name, process in processes.items()}
    except BaseException:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        raise
    for name, ((stdout, stderr), code) in results.items():
        if code != 0:
            tail = "\n".join((stdout + stderr).strip().splitlines()[-30:])
            raise RuntimeError(f"{name} failed (exit code {code}):\n{tail}")
    return {name: stdout for name, ((stdout, _), _) in results.items()}


def _process_tree(pid: int) -> list:
    """``pid`` and all its descendants now, as psutil processes."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _alive(processes: list) -> list:
    """The processes that still run (zombies are dead: only their parent's wait is missing)."""
    import psutil

    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def _group_members(pgid: int) -> list:
    """Live processes of process group ``pgid``."""
    import psutil

    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid:
                members.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return _alive(members)


def _wait_gone(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class Stack:
    """The emulator and ``airflow standalone`` started by ``start()``."""

    airflow_home: Path
    api_url: str
    endpoint_url: str
    landing_zone: dict
    emulator: EmulatorProcess | None = field(default=None, repr=False)
    airflow: subprocess.Popen | None = field(default=None, repr=False)
    log_path: Path | None = None
    _log_file: IO | None = field(default=None, repr=False)

    def pids(self) -> list[int]:
        """Process ids of everything running now: the emulator, airflow standalone and its descendants."""
        pids = []
        if self.emulator is not None and self.emulator.process.poll() is None:
            pids.append(self.emulator.process.pid)
        if self.airflow is not None and self.airflow.poll() is None:
            pids.extend(p.pid for p in _alive(_process_tree(self.airflow.pid)))
        return pids

    def health(self) -> dict | None:
        """The API server's health document, or None while it does not answer."""
        return api_health(self.api_url)

    def is_healthy(self) -> bool:
        """The API server answers and reports the database, scheduler, triggerer and dag processor healthy."""
        return all_healthy(self.health())

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Block until ``is_healthy()``; raises if airflow standalone exits or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not self.is_healthy():
            if self.airflow is None or self.airflow.poll() is not None:
                code = None if self.airflow is None else self.airflow.returncode
                raise RuntimeError(f"airflow standalone exited (exit code {code}) before it was ready.")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Airflow was not healthy after {timeout:.0f} s: {self.health()}")
            time.sleep(1)

    def stop(self) -> None:
        """Stop airflow standalone (SIGINT, then SIGTERM/SIGKILL to its process group and to every
        descendant it had) and the emulator. Idempotent."""
        if self.airflow is not None:
            process, pgid = self.airflow, self.airflow.pid  # started with start_new_session: pgid == pid
            tree = _process_tree(process.pid)  # task processes run in process groups of their own
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # standalone stops its components on KeyboardInterrupt
                try:
                    process.wait(timeout=STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    pass
            for signum in (signal.SIGTERM, signal.SIGKILL):
                if not _group_members(pgid) and not _alive(tree):
                    break
                _signal_group(pgid, signum)
                for member in _alive(tree):
                    try:
                        member.send_signal(signum)
                    except Exception:  # gone in the meantime
                        pass
                _wait_gone(lambda: _group_members(pgid) or _alive(tree), KILL_GRACE_SECONDS)
            if process.poll() is None:
                process.wait(timeout=KILL_GRACE_SECONDS)
        if self.emulator is not None:
            self.emulator.stop()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def start(
    port: int = DEFAULT_PORT,
    emulator_port: int = DEFAULT_EMULATOR_PORT,
    airflow_home: Path = DEFAULT_HOME,
    host: str = "127.0.0.1",
    admin_password: str = "admin",
    pool_slots: int = 2,
    emulator_env: dict[str, str] | None = None,
    log_file: Path | None = None,
    echo=print,
) -> Stack:
    """Start the emulator and ``airflow standalone``; return at once (``Stack.wait_ready()`` waits).

    ``port`` must be free; the emulator and the log servers move to free ports when theirs are busy.
    ``log_file`` receives airflow standalone's output (default: this process's stdout). On any failure
    everything started so far is stopped before the exception propagates.
    """
    airflow_home = Path(airflow_home).resolve()
    if not port_is_free(port, host):
        raise RuntimeError(f"Port {port} is in use; choose another with --port or AIRFLOW_PORT.")
    airflow_home.mkdir(parents=True, exist_ok=True)
    stack = Stack(
        airflow_home=airflow_home,
        api_url=f"http://{_local_host(host)}:{port}",
        endpoint_url="",
        landing_zone={},
    )
    try:
        wanted = emulator_port
        emulator_port = pick_port(emulator_port)
        if wanted and emulator_port != wanted:
            echo(f"Port {wanted} is in use; the emulator uses {emulator_port}.")
        echo("Starting the local AWS emulator…")
        stack.emulator = start_emulator(emulator_port, env=emulator_env)
        stack.endpoint_url = stack.emulator.endpoint_url
        env = standalone_env(
            airflow_home,
            stack.endpoint_url,
            port=port,
            host=host,
            worker_log_port=pick_port(WORKER_LOG_PORT),
            trigger_log_port=pick_port(TRIGGER_LOG_PORT),
        )
        write_passwords(airflow_home, admin_password)
        airflow = str(Path(sys.executable).with_name("airflow"))
        migrate = [airflow, "db", "migrate"]
        bootstrap = [sys.executable, "-m", "include.bootstrap", "--region", REGION]
        echo(f"Migrating the metadata database in {airflow_home} and bootstrapping the landing zone…")
        outputs = _run_together({"airflow db migrate": migrate, "bootstrap": bootstrap}, env)
        stack.landing_zone = json.loads(outputs["bootstrap"].strip().splitlines()[-1])

        value, description = json.dumps(stack.landing_zone), "Landing zone (python -m include.bootstrap)"
        variable = [airflow, "variables", "set", VARIABLE, value, "--description", description]
        # --include-deferred: a deferred task keeps its slot, so the pool bounds the Bedrock jobs that exist.
        pool = [airflow, "pools", "set", POOL, str(pool_slots), POOL_DESCRIPTION, "--include-deferred"]
        echo(f"Setting the Variable {VARIABLE} and the pool {POOL} ({pool_slots} slots)…")
        _run_together({"airflow variables set": variable, "airflow pools set": pool}, env)
        echo("Starting airflow standalone (scheduler, dag-processor, triggerer, api-server)…")
        if log_file is not None:
            stack.log_path = Path(log_file)
            stack._log_file = open(stack.log_path, "ab")  # closed by stop()
        stack.airflow = subprocess.Popen(
            [airflow, "standalone"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=stack._log_file,
            stderr=subprocess.STDOUT if stack._log_file else None,
            start_new_session=True,  # its own process group: stopped as a whole, not hit by the terminal's Ctrl-C
        )
    except BaseException:
        stack.stop()
        raise
    return stack


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when it is inside it, else absolute."""
    path = Path(path).absolute()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def sweep_schedule_note(environ: dict[str, str] | None = None) -> str:
    """One line on ``bedrock_hparam_sweep``'s schedule as ``airflow standalone`` inherits it from ``environ``.

    The DAG file reads ``[bedrock_customization] sweep_schedule`` when it is parsed, so the setting has to be
    in this process's environment, which ``start()`` hands on to ``airflow standalone``.
    """
    value = (os.environ if environ is None else environ).get(SWEEP_SCHEDULE_ENV, "").strip()
    if value and value.lower() != "none":
        return f"bedrock_hparam_sweep runs {value} ({SWEEP_SCHEDULE_ENV}): it can be backfilled (README)."
    return (
        "bedrock_hparam_sweep has no schedule: to backfill it, restart with "
        f"{SWEEP_SCHEDULE_ENV}=@daily make airflow (README)."
    )


def banner(stack: Stack, password: str) -> str:
    """Where to log in, how to trigger the retraining DAG, and what the other DAGs need."""
    airflow = f"AIRFLOW_HOME={stack.airflow_home} {_shown(Path(sys.executable).with_name('airflow'))}"
    conf = json.dumps({"eval_samples": 6})
    bucket = stack.landing_zone.get("bucket", "<bucket>")
    return "\n".join(
        [
            "",
            "=" * 100,
            f"Airflow UI:   {stack.api_url}   log in as {ADMIN_USER} / {password}",
            f"AWS emulator: {stack.endpoint_url}   (connection aws_default; Variable {VARIABLE}; pool {POOL})",
            "",
            f"Trigger: Dags > {DAG_ID} > Trigger, fill in the form, tick 'Unpause {DAG_ID} on trigger'.",
            "     or, from another shell:",
            f"       {airflow} dags unpause {DAG_ID}",
            f"       {airflow} dags trigger {DAG_ID} --conf '{conf}'",
            f"bedrock_model_import imports the demo model in s3://{bucket}/{DEMO_MODEL_PREFIX} with its defaults.",
            sweep_schedule_note(),
            "DAGs appear a few seconds after the start, edits within ~15 s. Ctrl-C stops Airflow and the emulator.",
            "=" * 100,
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.airflow_local", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("AIRFLOW_PORT", DEFAULT_PORT)),
        help="API server / UI port (env AIRFLOW_PORT, default 8080)",
    )
    parser.add_argument(
        "--emulator-port",
        type=int,
        default=int(os.environ.get("LOCAL_AWS_PORT", DEFAULT_EMULATOR_PORT)),
        help="emulator port (env LOCAL_AWS_PORT, default 4566; a free one when busy)",
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("AIRFLOW_HOST", "127.0.0.1"),
        help="address the API server binds (env AIRFLOW_HOST, default 127.0.0.1)",
    )
    parser.add_argument("--airflow-home", type=Path, default=DEFAULT_HOME, help="default: .airflow/")
    parser.add_argument(
        "--pool-slots", type=int, default=int(os.environ.get("BEDROCK_CUSTOMIZATION_POOL_SLOTS", 2))
    )
    args = parser.parse_args(argv)
    password = os.environ.get("AIRFLOW_ADMIN_PASSWORD", "admin")

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    # Ctrl-C raises KeyboardInterrupt even if SIGINT came in ignored (e.g. started with `&`); the child then
    # starts with the default disposition too, so airflow standalone's own Ctrl-C handling works.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stack = None
    try:
        emulator_env = {key: os.environ.get(key, value) for key, value in UI_EMULATOR_DEFAULTS.items()}
        stack = start(
            args.port,
            args.emulator_port,
            args.airflow_home,
            args.host,
            password,
            args.pool_slots,
            emulator_env,
        )
        stack.wait_ready()
        print(banner(stack, password), flush=True)
        code = stack.airflow.wait()
        print(f"airflow standalone exited with code {code}.", flush=True)
        return code or 1
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        print("\nStopping Airflow and the emulator…", flush=True)
        return 0
    except (RuntimeError, TimeoutError) as error:
        print(f"make airflow: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if stack is not None:
            stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
