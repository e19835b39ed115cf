"""Static checks of the docker-compose stack: docker-compose.yaml, docker/Dockerfile, docker/airflow.env.

No Docker daemon is needed. The compose file is read with PyYAML, its ``${VAR}`` references are resolved
the way Docker Compose v2 resolves them, and everything Airflow has to accept (CLI subcommands, config
options, the auth manager class, ``python -m`` modules) is checked against the installed packages in
a single child process. That process has a throwaway AIRFLOW_HOME and gets only docker/airflow.env as
its Airflow configuration.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from include.compose import (
    PROJECT_DIR,
    airflow_calls,
    airflow_env,
    all_argvs,
    as_argv,
    compose,
    container_ports,
    environment,
    interpolate,
    is_celery,
    parse_env_lines,
    port_of,
    python_calls,
    raw_compose,
    services,
    walk,
)

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE_REL = "docker/airflow.env"
ENV_EXAMPLE = ROOT / "docker" / ".env.example"
README = ROOT / "README.md"
DOCKERIGNORE = ROOT / ".dockerignore"

AIRFLOW_VERSION = "3.3.2"
EMULATOR_SERVICE = "aws"
EMULATOR_MODULE = "include.local_aws"
POOL_NAME = "bedrock_customization_jobs"

# Services that use the Airflow image's entrypoint and run one Airflow component each.
AIRFLOW_COMPONENTS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
ONE_SHOT = {"airflow-init"}
REQUIRED_SERVICES = {"postgres", "redis", EMULATOR_SERVICE, *AIRFLOW_COMPONENTS, *ONE_SHOT}
# Every Airflow subcommand the stack relies on, as the first words of an `airflow ...` call.
REQUIRED_CLI = {
    "api-server",
    "scheduler",
    "dag-processor",
    "triggerer",
    "celery worker",
    "db migrate",
    "pools set",
    "jobs check",
}
# Values that depend on where Airflow runs. They belong in compose `environment:`, not in the env file.
HOST_SPECIFIC_KEYS = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW_CONN_AWS_DEFAULT",
}
CELERY_PROVIDER = "apache-airflow-providers-celery"
CELERY_MISSING = (
    f"{CELERY_PROVIDER} is not installed in this environment. The CeleryExecutor stack needs it, and it "
    "ships in the apache/airflow image. Add it to requirements.txt to check the celery parts natively."
)


# --------------------------------------------------------------------------------------------------
# The Airflow probe: one child process with the env file as its only Airflow configuration
# --------------------------------------------------------------------------------------------------

_PROBE = r"""
import contextlib, importlib.metadata, importlib.util, io, json, sys

request = json.load(sys.stdin)
sys.path.insert(0, request["root"])
result = {}
try:
    result["celery_provider"] = importlib.metadata.version("apache-airflow-providers-celery")
except importlib.metadata.PackageNotFoundError:
    result["celery_provider"] = None

from airflow.configuration import conf

description = conf.configuration_description
renamed = {f"{old[0]}.{old[1]}": f"{new[0]}.{new[1]}" for new, old in conf.deprecated_options.items()}
getters = {"boolean": conf.getboolean, "integer": conf.getint, "float": conf.getfloat}
options = {}
for env_key in request["options"]:
    _, section, key = env_key.split("__", 2)
    section, key = section.lower(), key.lower()
    info = description.get(section, {}).get("options", {}).get(key)
    entry = {"known": info is not None, "renamed_to": renamed.get(f"{section}.{key}"),
             "deprecated_since": (info or {}).get("version_deprecated"), "value_error": None}
    if info is not None and info.get("type") in getters:
        try:
            getters[info["type"]](section, key)
        except Exception as exc:
            entry["value_error"] = f"{type(exc).__name__}: {exc}"
    options[env_key] = entry
result["options"] = options

from airflow._shared.module_loading import import_string

try:
    import_string(conf.get("core", "auth_manager"))
    result["auth_manager_error"] = None
except Exception as exc:
    result["auth_manager_error"] = f"{type(exc).__name__}: {exc}"

from airflow.cli import cli_parser

parser = cli_parser.get_parser()
cli = {}
for argv in request["cli"]:
    sink = io.StringIO()
    try:
        with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
            parser.parse_args(argv)
        cli[" ".join(argv)] = None
    except SystemExit as exc:
        cli[" ".join(argv)] = (sink.getvalue().strip().splitlines() or [f"exit code {exc.code}"])[-1]
result["cli"] = cli

modules = {}
for name in request["modules"]:
    try:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations is not None:
            spec = importlib.util.find_spec(name + ".__main__")  # `python -m package` runs package.__main__
        modules[name] = None if spec is not None else "not found"
    except Exception as exc:
        modules[name] = f"{type(exc).__name__}: {exc}"
result["modules"] = modules
print("PROBE_RESULT " + json.dumps(result))
"""


def _compose_airflow_keys() -> set[str]:
    keys = set()
    for service in services().values():
        keys.update(k for k in environment(service) if k.startswith("AIRFLOW__"))
    return keys


def _native_keys() -> set[str]:
    """Settings the native deployment adds (ports, folders): they must be real options too."""
    from include.deployment import NATIVE_ONLY_KEYS

    return {key for key in NATIVE_ONLY_KEYS if key.startswith("AIRFLOW__")}


def _python_modules() -> set[str]:
    modules = set()
    for _, args in python_calls():
        if "-m" in args and args.index("-m") + 1 < len(args):
            modules.add(args[args.index("-m") + 1])
    return modules


def _celery_app_modules() -> set[str]:
    modules = set()
    for _, argv in all_argvs():
        if Path(argv[0]).name == "celery":
            for flag in ("--app", "-A"):
                if flag in argv:
                    modules.add(argv[argv.index(flag) + 1].rsplit(".", 1)[0])
    return modules


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
    }
    env.update(airflow_env())
    env["AIRFLOW_HOME"] = str(tmp_path_factory.mktemp("airflow-home"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    request = {
        "root": str(ROOT),
        "options": sorted(
            {k for k in airflow_env() if k.startswith("AIRFLOW__")} | _compose_airflow_keys() | _native_keys()
        ),
        "cli": [args for _, args in airflow_calls()],
        "modules": sorted(_python_modules() | _celery_app_modules()),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE],
        input=json.dumps(request),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("PROBE_RESULT ")]
    assert proc.returncode == 0 and lines, (
        f"Airflow probe failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return json.loads(lines[-1].removeprefix("PROBE_RESULT "))


# --------------------------------------------------------------------------------------------------
# Services, healthchecks, dependencies
# --------------------------------------------------------------------------------------------------


def test_required_services_exist():
    missing = REQUIRED_SERVICES - set(services())
    assert not missing, f"docker-compose.yaml lacks services: {sorted(missing)}"


def test_every_long_running_service_has_a_healthcheck():
    for name, service in services().items():
        if name in ONE_SHOT:
            assert str(service.get("restart", "no")) == "no", f"{name} is one-shot and must not restart"
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck test must be CMD or CMD-SHELL"
        assert service.get("restart") in ("always", "unless-stopped"), f"{name} should restart"


def test_healthchecks_probe_the_right_endpoints():
    def check_text(name):
        return " ".join(services()[name]["healthcheck"]["test"])

    assert "pg_isready" in check_text("postgres")
    assert "redis-cli" in check_text("redis") and "ping" in check_text("redis")
    assert re.search(r"localhost:8080/api/v2/(version|monitor/health)", check_text("airflow-apiserver"))
    assert "localhost:8974/health" in check_text("airflow-scheduler")
    assert airflow_env().get("AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK") == "True", (
        "the scheduler healthcheck needs AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=True in the env file"
    )
    for name, job in (("airflow-dag-processor", "DagProcessorJob"), ("airflow-triggerer", "TriggererJob")):
        text = check_text(name)
        assert f"jobs check --job-type {job}" in text and '--hostname "${HOSTNAME}"' in text, text
    assert "inspect ping" in check_text("airflow-worker") and "celery@${HOSTNAME}" in check_text(
        "airflow-worker"
    )
    assert "/_local_aws/health" in check_text(EMULATOR_SERVICE)


def test_python_healthcheck_snippets_compile():
    for name, args in python_calls():
        if "-c" in args:
            compile(args[args.index("-c") + 1], f"<{name} python -c>", "exec")


def test_depends_on_conditions():
    allowed = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services().items():
        for target, spec in (service.get("depends_on") or {}).items():
            assert target in services(), f"{name} depends on unknown service {target}"
            assert isinstance(spec, dict) and spec.get("condition") in allowed, f"{name} -> {target}: {spec}"
            if spec["condition"] == "service_healthy":
                assert services()[target].get("healthcheck"), (
                    f"{name} waits for {target}, which has no healthcheck"
                )
            if spec["condition"] == "service_completed_successfully":
                assert target in ONE_SHOT, f"{name} waits for {target} to exit, but it is long-running"

    def conditions(name):
        return {t: s["condition"] for t, s in services()[name]["depends_on"].items()}

    # The init bootstraps the landing zone where aws_default points (the emulator by default).
    assert conditions("airflow-init") == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
        EMULATOR_SERVICE: "service_healthy",
    }
    for name in AIRFLOW_COMPONENTS:
        deps = conditions(name)
        assert deps.get("postgres") == deps.get("redis") == "service_healthy", name
        assert deps.get("airflow-init") == "service_completed_successfully", name
    # Task code talks to the Execution API and to AWS from the worker and the triggerer.
    for name in ("airflow-worker", "airflow-triggerer"):
        deps = conditions(name)
        assert deps.get("airflow-apiserver") == "service_healthy", name
        assert deps.get(EMULATOR_SERVICE) == "service_healthy", name


def test_no_dependency_cycles():
    graph = {name: set(service.get("depends_on") or {}) for name, service in services().items()}
    visiting, done = set(), set()

    def visit(node, path):
        assert node not in visiting, f"dependency cycle: {' -> '.join(path + [node])}"
        if node in done:
            return
        visiting.add(node)
        for nxt in graph[node]:
            visit(nxt, path + [node])
        visiting.discard(node)
        done.add(node)

    for node in graph:
        visit(node, [])


# --------------------------------------------------------------------------------------------------
# Image: x-airflow-common build, Dockerfile, .dockerignore
# --------------------------------------------------------------------------------------------------


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


@cache
def dockerfile() -> Path:
    build = compose()["x-airflow-common"]["build"]
    return ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")


def test_common_build_uses_an_existing_dockerfile_from_the_pinned_airflow_image():
    common = compose()["x-airflow-common"]
    assert common["build"]["context"] == "."
    assert dockerfile().is_file(), f"missing {dockerfile()}"
    assert common["image"] == f"airflow-bedrock-customization:{AIRFLOW_VERSION}"
    froms = [rest for keyword, rest in dockerfile_instructions(dockerfile()) if keyword == "FROM"]
    # The image's Python is the venv's: `make itest` runs the deployment natively with that interpreter.
    python = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert froms and froms[0].split()[0] == f"apache/airflow:{AIRFLOW_VERSION}-{python}", froms
    requirements = (ROOT / "requirements.txt").read_text()
    assert re.search(rf"^apache-airflow=={re.escape(AIRFLOW_VERSION)}\s*$", requirements, re.M), (
        "requirements.txt must pin the same Airflow version as the base image"
    )


def test_dockerfile_installs_requirements_and_the_provider():
    instructions = dockerfile_instructions(dockerfile())
    copies = [rest.split() for keyword, rest in instructions if keyword == "COPY"]
    runs = " && ".join(rest for keyword, rest in instructions if keyword == "RUN")
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] == "airflow", "pip must run as the airflow user"
    assert any("requirements.txt" in args for args in copies), "requirements.txt is not copied"
    assert re.search(r"pip install [^&]*-r \S*requirements\S*\.txt", runs), "requirements are not installed"
    # The `-e .` line of requirements.txt needs the project (pyproject, its readme, plugins/) in place.
    copied = {
        Path(src).as_posix().rstrip("/") for args in copies for src in args[:-1] if not src.startswith("--")
    }
    assert {"pyproject.toml", "README.md", "plugins"} <= copied, copied
    installs_all = re.search(r"pip install [^&]*-r requirements\.txt", runs)
    installs_project = re.search(r"pip install [^&]*(-e \.|--no-deps[^&]* \.)(\s|$)", runs)
    assert installs_all or installs_project, "the provider itself (`-e .`) is not installed"
    workdirs = [rest for keyword, rest in instructions if keyword == "WORKDIR"]
    assert workdirs and workdirs[-1] == PROJECT_DIR


def test_dockerfile_copy_sources_exist_and_are_not_ignored():
    ignored = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git", ".airflow", "logs"} <= ignored, f".dockerignore misses local state: {ignored}"
    for keyword, rest in dockerfile_instructions(dockerfile()):
        if keyword != "COPY":
            continue
        sources = [arg for arg in rest.split()[:-1] if not arg.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
            assert source.rstrip("/") not in ignored, (
                f"Dockerfile copies {source}, which .dockerignore excludes"
            )


def test_airflow_services_share_image_env_file_and_mounts():
    mounts = {f"./{d}:{PROJECT_DIR}/{d}" for d in ("dags", "plugins", "include", "logs")}
    image = compose()["x-airflow-common"]["image"]
    for name in [*AIRFLOW_COMPONENTS, *ONE_SHOT]:
        service = services()[name]
        assert service.get("image") == image and service.get("build"), f"{name} must use x-airflow-common"
        assert service.get("env_file") == [ENV_FILE_REL], f"{name} must load {ENV_FILE_REL}"
        assert mounts <= set(service.get("volumes", [])), (
            f"{name} lacks mounts {mounts - set(service['volumes'])}"
        )
        env = environment(service)
        assert env.get("PYTHONPATH") == PROJECT_DIR, f"{name}: PYTHONPATH must be {PROJECT_DIR}"
        assert HOST_SPECIFIC_KEYS <= set(env), f"{name} lacks {HOST_SPECIFIC_KEYS - set(env)}"
        if name in AIRFLOW_COMPONENTS:
            assert as_argv(service.get("command")) == AIRFLOW_COMPONENTS[name].split(), name
            assert "entrypoint" not in service, f"{name} must keep the Airflow image's entrypoint"


def _gitignored_dirs() -> set[str]:
    lines = (ROOT / ".gitignore").read_text().splitlines()
    return {line.strip().strip("/") for line in lines if line.strip() and not line.startswith(("#", "!"))}


def test_bind_mount_sources_exist():
    """Sources must be in the repository. The one exception is a git-ignored output directory (logs),
    which Docker creates on first start and airflow-init chowns."""
    named = set(compose().get("volumes") or {})
    runtime_dirs = {"logs"} & _gitignored_dirs()
    for name, service in services().items():
        for volume in service.get("volumes", []):
            if isinstance(volume, dict):
                source, kind = volume.get("source"), volume.get("type")
            else:
                source = volume.split(":")[0]
                kind = "bind" if source.startswith((".", "/", "~")) else "volume"
            if kind == "bind":
                assert source.startswith("./"), f"{name}: bind mount {source} must be repo-relative"
                if source.removeprefix("./").rstrip("/") in runtime_dirs:
                    continue
                assert (ROOT / source).exists(), f"{name}: bind mount source {source} does not exist"
            else:
                assert source in named, f"{name}: named volume {source} is not declared"


# --------------------------------------------------------------------------------------------------
# The shared env file and compose variables
# --------------------------------------------------------------------------------------------------


def test_env_file_exists_and_is_plain_key_value():
    path = ROOT / ENV_FILE_REL
    assert path.is_file()
    seen = set()
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        # Valid in docker compose, in `set -a; . file` and in a naive Python split: no quoting, no expansion.
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*=[^\s'\"`$#\\]*", line), f"{ENV_FILE_REL}:{number}: {line!r}"
        key = line.split("=", 1)[0]
        assert key not in seen, f"{ENV_FILE_REL}:{number}: {key} is set twice"
        seen.add(key)


def test_env_file_settings():
    env = airflow_env()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"] == "True"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith(".SimpleAuthManager")
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
    assert int(env["AIRFLOW__CORE__PARALLELISM"]) <= 16
    assert int(env["AIRFLOW__CELERY__WORKER_CONCURRENCY"]) <= 8
    # Every component must sign and verify with the same secret; HS512 wants at least 64 bytes.
    assert len(env["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 64
    assert env["AIRFLOW__API__SECRET_KEY"]
    assert "AIRFLOW__CORE__FERNET_KEY" in env


def test_host_specific_values_live_in_compose_not_in_env_file():
    env = airflow_env()
    assert not HOST_SPECIFIC_KEYS & set(env), (
        f"host-specific keys in {ENV_FILE_REL}: {HOST_SPECIFIC_KEYS & set(env)}"
    )
    for key, value in env.items():
        assert not re.search(r"(//|@)(postgres|redis|aws|airflow-apiserver)\b", value), f"{key}={value}"
        assert not value.startswith("/"), f"{key}={value}: paths depend on the host"
    # One source of truth: compose `environment:` must not redefine what the env file sets.
    for name, service in services().items():
        overlap = set(environment(service)) & set(env)
        assert not overlap, f"{name} redefines env-file keys {overlap}"


def test_compose_variables_have_defaults_or_are_defined():
    refs: list[tuple[str, str | None]] = []
    walk(raw_compose(), lambda s: interpolate(s, {}, refs))
    defined = set(parse_env_lines(ENV_EXAMPLE)) | set(airflow_env())
    undefined = {name for name, op in refs if op not in (":-", "-") and name not in defined}
    assert not undefined, f"variables without a default or a definition: {sorted(undefined)}"


def test_env_example_parses_and_names_only_variables_compose_uses():
    refs: list[tuple[str, str | None]] = []
    walk(raw_compose(), lambda s: interpolate(s, {}, refs))
    used = {name for name, _ in refs}
    passthrough = {
        key for service in services().values() for key, value in environment(service).items() if value is None
    }
    example = parse_env_lines(ENV_EXAMPLE)
    assert example, ".env.example defines nothing"
    assert set(example) <= used | passthrough, set(example) - used - passthrough


# --------------------------------------------------------------------------------------------------
# Airflow: CLI subcommands, config options, auth manager (checked in the probe process)
# --------------------------------------------------------------------------------------------------


def test_stack_uses_every_required_airflow_subcommand():
    used = {" ".join(args[:2]) for _, args in airflow_calls()} | {args[0] for _, args in airflow_calls()}
    missing = REQUIRED_CLI - used
    assert not missing, f"not used anywhere in docker-compose.yaml: {sorted(missing)}"


def test_airflow_cli_subcommands_exist(probe):
    failures = {
        " ".join(args): probe["cli"][" ".join(args)]
        for _, args in airflow_calls()
        if not is_celery(args) and probe["cli"][" ".join(args)]
    }
    assert not failures, f"the installed Airflow CLI rejects: {failures}"


def test_celery_cli_subcommands_exist(probe):
    if not probe["celery_provider"]:
        pytest.skip(CELERY_MISSING)
    celery = [args for _, args in airflow_calls() if is_celery(args)]
    assert celery
    failures = {" ".join(a): probe["cli"][" ".join(a)] for a in celery if probe["cli"][" ".join(a)]}
    assert not failures, f"the installed Airflow CLI rejects: {failures}"
    for module in _celery_app_modules():
        assert probe["modules"][module] is None, f"celery app module {module}: {probe['modules'][module]}"


def _option_problems(probe, celery: bool) -> dict[str, str]:
    problems = {}
    for key, info in probe["options"].items():
        if (key.split("__")[1] == "CELERY") != celery:
            continue
        if not info["known"]:
            problems[key] = "not an Airflow config option"
        elif info["renamed_to"]:
            problems[key] = f"deprecated, use [{info['renamed_to']}]"
        elif info["deprecated_since"]:
            problems[key] = f"deprecated since {info['deprecated_since']}"
        elif info["value_error"]:
            problems[key] = info["value_error"]
    return problems


def test_airflow_config_options_exist(probe):
    problems = _option_problems(probe, celery=False)
    assert not problems, problems


def test_celery_config_options_exist(probe):
    if not probe["celery_provider"]:
        pytest.skip(CELERY_MISSING)
    problems = _option_problems(probe, celery=True)
    assert not problems, problems


def test_auth_manager_is_importable(probe):
    assert probe["auth_manager_error"] is None, probe["auth_manager_error"]


def test_python_modules_exist(probe):
    modules = _python_modules()
    assert EMULATOR_MODULE in modules
    missing = {m: probe["modules"][m] for m in modules if probe["modules"][m]}
    assert not missing, f"`python -m` targets that cannot run: {missing}"


# --------------------------------------------------------------------------------------------------
# Init, emulator, AWS connection, API server, docs
# --------------------------------------------------------------------------------------------------


def test_init_migrates_creates_pool_and_directories():
    init = [args for name, args in airflow_calls() if name == "airflow-init"]
    assert ["db", "migrate"] in init
    pools = [args for args in init if args[:2] == ["pools", "set"]]
    assert pools and pools[0][2] == POOL_NAME and pools[0][3] == "2", pools
    assert "${BEDROCK_CUSTOMIZATION_POOL_SLOTS:-2}" in json.dumps(raw_compose()["services"]["airflow-init"])
    script = " ".join(as_argv(services()["airflow-init"]["command"]))
    for directory in ("dags", "plugins", "include", "logs"):
        assert re.search(rf"mkdir -p [^\n]*{PROJECT_DIR}/{directory}\b", script), (
            f"init does not create {directory}"
        )


def test_emulator_service_runs_the_local_aws_module():
    service = services()[EMULATOR_SERVICE]
    argv = as_argv(service.get("entrypoint")) + as_argv(service["command"])
    assert argv[:3] == ["python", "-m", EMULATOR_MODULE], argv
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    assert service.get("working_dir") == PROJECT_DIR
    assert service.get("image") == compose()["x-airflow-common"]["image"], (
        "the emulator uses the project image"
    )
    assert (ROOT / EMULATOR_MODULE.replace(".", "/")).is_dir()
    assert f"./include:{PROJECT_DIR}/include" in service.get("volumes", [])
    assert "curl" not in json.dumps(service["healthcheck"]), "curl may be absent from the image"


def test_aws_connection_defaults_to_the_emulator_service():
    value = environment(compose()["x-airflow-common"])["AIRFLOW_CONN_AWS_DEFAULT"]
    raw = environment(raw_compose()["x-airflow-common"])["AIRFLOW_CONN_AWS_DEFAULT"]
    assert raw.startswith("${AIRFLOW_CONN_AWS_DEFAULT:-"), "the connection must be overridable from .env"
    conn = json.loads(value)
    assert conn["conn_type"] == "aws"
    extra = conn["extra"]
    assert extra.get("region_name")
    endpoint = urlsplit(extra["endpoint_url"])
    assert endpoint.hostname == EMULATOR_SERVICE
    service = services()[EMULATOR_SERVICE]
    argv = as_argv(service["command"])
    port = int(argv[argv.index("--port") + 1])
    assert endpoint.port == port
    assert port in container_ports(service)
    health = " ".join(service["healthcheck"]["test"])
    assert f"localhost:{port}/_local_aws/health" in health
    # The override works: a user-provided value replaces the whole default.
    real = '{"conn_type":"aws","extra":{"region_name":"eu-west-1"}}'
    assert interpolate(raw, {"AIRFLOW_CONN_AWS_DEFAULT": real}) == real


def test_api_server_port_and_execution_api_url_agree():
    api = services()["airflow-apiserver"]
    assert 8080 in container_ports(api)
    url = environment(compose()["x-airflow-common"])["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    parts = urlsplit(url)
    assert parts.hostname == "airflow-apiserver" and port_of(url) == 8080 and parts.path == "/execution/"


def test_readme_section_explains_compose_up_and_real_aws():
    text = README.read_text()
    section = text[text.index("## Docker Compose") :]
    section = section[: section.index("\n## ", 1)]
    assert "### With the emulator" in section and "### With real AWS" in section
    assert "docker compose up" in section and "make itest" in section
    assert "AIRFLOW_CONN_AWS_DEFAULT" in section and "endpoint_url" in section
    # The README names the image and server versions compose really uses.
    for service in ("postgres", "redis"):
        from include.deployment import image_version

        assert f"{'PostgreSQL' if service == 'postgres' else 'Redis'} {image_version(service)}" in section
    froms = [rest for keyword, rest in dockerfile_instructions(dockerfile()) if keyword == "FROM"]
    assert froms[0].split()[0] in section


# --------------------------------------------------------------------------------------------------
# Fidelity: the native deployment of `make itest` (include/deployment.py) is this compose file
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def layout(tmp_path):
    from include.deployment import API_SERVICE, Layout

    ports = {"postgres": 15432, "redis": 16379, EMULATOR_SERVICE: 14566, API_SERVICE: 18080}
    return Layout(tmp_path, ports, scheduler_health_port=18974, worker_log_port=18793, trigger_log_port=18794)


def test_native_deployment_starts_every_airflow_service_with_its_compose_command(layout):
    from include.deployment import airflow_services

    assert set(airflow_services()) == set(AIRFLOW_COMPONENTS)
    for name in AIRFLOW_COMPONENTS:
        argv = layout.service_argv(name)
        assert argv[0] == str(Path(sys.executable).with_name("airflow")), "the venv's airflow"
        assert argv[1:] == AIRFLOW_COMPONENTS[name].split(), name


def test_native_environment_is_the_env_file_and_compose_environment_with_hosts_and_paths_translated(layout):
    from include.deployment import NATIVE_ONLY_KEYS

    compose_keys = {key for service in services().values() for key in environment(service)}
    assert not set(NATIVE_ONLY_KEYS) & (set(airflow_env()) | compose_keys), (
        "a native-only setting is also set by compose or the env file, which the native run would override"
    )
    translated = {"PYTHONPATH", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"} | HOST_SPECIFIC_KEYS
    for name in [*AIRFLOW_COMPONENTS, *ONE_SHOT]:
        native = layout.service_env(name)
        expected = {**airflow_env(), **{k: v for k, v in environment(services()[name]).items() if v is not None}}
        assert set(native) == set(expected) | set(NATIVE_ONLY_KEYS), name
        changed = {key for key in expected if native[key] != expected[key]}
        assert changed <= translated, f"{name}: the native run changes {changed - translated}"
        for key in changed:
            assert not re.search(r"(//|@)(postgres|redis|aws|airflow-apiserver)\b|/opt/airflow", native[key]), (
                f"{name}: {key}={native[key]} still names a container host or path"
            )


def test_native_translation_of_hosts_and_paths(layout, tmp_path):
    env = layout.service_env("airflow-apiserver")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        "postgresql+psycopg2://airflow:airflow@127.0.0.1:15432/airflow"
    )
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@127.0.0.1:16379/0"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == "http://127.0.0.1:14566"
    assert env["PYTHONPATH"] == str(ROOT)
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == str(
        tmp_path / "auth" / "simple_auth_manager_passwords.json"
    )
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(ROOT / "dags")
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(ROOT / "plugins")
    assert env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] == str(tmp_path / "logs"), "output stays out of the repo"


def test_native_init_runs_the_compose_init_commands(layout):
    from include.compose import service_argvs
    from include.deployment import INIT_SERVICE, SKIPPED_INIT_COMMANDS

    compose_init = [argv for argv in service_argvs(services()[INIT_SERVICE]) if argv[0] not in SKIPPED_INIT_COMMANDS]
    native = layout.init_argvs()
    assert len(native) == len(compose_init)
    for ours, theirs in zip(native, compose_init, strict=True):
        assert Path(ours[0]).name == Path(theirs[0]).name or ours[0] == sys.executable
        assert ours[1:] == [layout.translate(arg) for arg in theirs[1:]]
    names = [" ".join(argv[1:3]) for argv in native]
    assert {"db migrate", "pools set", "-m include.bootstrap"} <= set(names), names
    assert names.index("db migrate") < names.index("-m include.bootstrap"), "the Variable needs the schema"


def test_database_and_broker_images_pin_the_versions_the_native_run_installs():
    from include.deployment import APT_PACKAGES, image_version

    assert re.fullmatch(r"\d+", image_version("postgres")), "pin the PostgreSQL major version"
    assert re.fullmatch(r"\d+\.\d+", image_version("redis")), "pin the Redis minor version"
    # Debian bookworm builds, as on the machines `make itest` installs the same versions on.
    for name in ("postgres", "redis"):
        assert services()[name]["image"].endswith("-bookworm"), name
    assert APT_PACKAGES["postgres"].format(version=image_version("postgres")) == "postgresql-15"


def test_missing_servers_without_apt_get_name_the_packages(monkeypatch):
    from include import deployment

    monkeypatch.setattr(deployment, "_postgres_bin", lambda version: None)
    monkeypatch.setattr(deployment, "_redis_version", lambda: None)
    monkeypatch.setattr(deployment.shutil, "which", lambda name: None)
    with pytest.raises(deployment.DeploymentUnavailable, match=r"postgresql-15 and redis-server not installed"):
        deployment.ensure_servers(echo=lambda *_: None)


def test_a_redis_of_another_version_than_the_image_fails(monkeypatch):
    from include import deployment

    monkeypatch.setattr(deployment, "_postgres_bin", lambda version: Path("/usr/lib/postgresql/15/bin"))
    monkeypatch.setattr(deployment, "_redis_version", lambda: "7.2")
    with pytest.raises(deployment.ServerVersionMismatch, match=r"redis-server 7.2 .* redis:7.0-bookworm"):
        deployment.ensure_servers(echo=lambda *_: None)
