"""docker-compose.yaml read the way Docker Compose v2 reads it: the one description of the deployment.

``tests/test_compose.py`` checks the file with these functions, and ``include.deployment`` starts the same
services natively from it (same commands, same env file, same environment), so the two cannot drift.

Only what Compose itself does is done here: YAML loading, ``${VAR:-default}`` interpolation (with every
variable at its default, as with no ``.env``), the ``env_file`` format, and turning ``command``,
``entrypoint`` and healthchecks into argv lists (``bash -c`` scripts split into their simple commands).
"""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_FILE_REL = "docker/airflow.env"
#: Where the image keeps the project (AIRFLOW_HOME, working directory, PYTHONPATH).
PROJECT_DIR = "/opt/airflow"


@cache
def raw_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``${`` at ``start``, counting nested braces like compose-go."""
    depth = 0
    i = start
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unterminated ${{...}} in {text!r}")


_BRACED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])(.*))?$", re.S)
_NAMED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def interpolate(text: str, env: dict[str, str], refs: list[tuple[str, str | None]] | None = None) -> str:
    """Resolve ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?err}``.

    Each variable reference is appended to ``refs`` as ``(name, operator)``.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$":
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = _closing_brace(text, i + 1)
            match = _BRACED.match(text[i + 2 : end])
            if not match:
                raise ValueError(f"invalid interpolation {text[i : end + 1]!r}")
            name, op, arg = match.groups()
            if refs is not None:
                refs.append((name, op))
            value = env.get(name)
            if op in (":-", "-"):
                use_default = value is None or (op == ":-" and value == "")
                out.append(interpolate(arg or "", env, refs) if use_default else value)
            elif op in (":+", "+"):
                use_alt = value is not None and (op == "+" or value != "")
                out.append(interpolate(arg or "", env, refs) if use_alt else "")
            elif op in (":?", "?"):
                if value is None or (op == ":?" and not value):
                    raise ValueError(f"{name} is required: {arg}")
                out.append(value)
            else:
                out.append(value or "")
            i = end + 1
        elif match := _NAMED.match(text, i + 1):
            if refs is not None:
                refs.append((match.group(), None))
            out.append(env.get(match.group(), ""))
            i = match.end()
        else:
            out.append("$")
            i += 1
    return "".join(out)


def walk(node, fn):
    if isinstance(node, dict):
        return {key: walk(value, fn) for key, value in node.items()}
    if isinstance(node, list):
        return [walk(value, fn) for value in node]
    if isinstance(node, str):
        return fn(node)
    return node


@cache
def compose() -> dict:
    """The compose file as Docker Compose sees it with no `.env`: every variable at its default."""
    return walk(raw_compose(), lambda s: interpolate(s, {}))


def services() -> dict[str, dict]:
    return compose()["services"]


def parse_env_lines(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "=" not in stripped:
            raise ValueError(f"{path.name}:{number}: not KEY=VALUE: {line!r}")
        key, value = stripped.split("=", 1)
        values[key] = value
    return values


@cache
def airflow_env() -> dict[str, str]:
    return parse_env_lines(ROOT / ENV_FILE_REL)


def environment(service: dict) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def as_argv(value) -> list[str]:
    """A compose `command`/`entrypoint` (string or list) as argv. Compose splits strings like a shell."""
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(part) for part in value]


def port_of(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or {"http": 80, "https": 443}[parts.scheme]


def container_ports(service: dict) -> set[int]:
    ports = set()
    for spec in service.get("ports", []):
        spec = str(spec).split("/")[0]
        ports.add(int(spec.rsplit(":", 1)[-1]))
    return ports


# --------------------------------------------------------------------------------------------------
# Commands: every argv the stack runs, to find `airflow ...` and `python -m ...` calls
# --------------------------------------------------------------------------------------------------

_SHELL_OPERATORS = {"&&", "||", ";", "|", "&", "(", ")"}
_SHELL_VAR = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*")


def shell_commands(script: str) -> list[list[str]]:
    """Split a POSIX shell script into simple commands (argv lists). Shell variables become ``x1``."""
    commands: list[list[str]] = []
    for line in script.splitlines():
        if not line.strip() or line.strip().startswith("#"):
            continue
        lexer = shlex.shlex(_SHELL_VAR.sub("x1", line), posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        for token in lexer:
            if token in _SHELL_OPERATORS:
                commands.append(current)
                current = []
            else:
                current.append(token)
        commands.append(current)
    cleaned = []
    for argv in commands:
        while argv and (
            argv[0] in ("exec", "command") or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", argv[0])
        ):
            argv = argv[1:]
        if argv:
            cleaned.append(argv)
    return cleaned


def expand(argv: list[str]) -> list[list[str]]:
    """Resolve ``bash -c SCRIPT`` / ``sh -c SCRIPT`` into the commands of the script."""
    if len(argv) >= 3 and Path(argv[0]).name in ("bash", "sh") and argv[1] == "-c":
        return [cmd for sub in shell_commands(argv[2]) for cmd in expand(sub)]
    if argv and argv[0] == "/entrypoint":
        return expand(argv[1:])
    return [argv]


def service_argvs(service: dict) -> list[list[str]]:
    """What the container runs, with the Airflow image's entrypoint made explicit (`airflow <command>`)."""
    command = as_argv(service.get("command"))
    if "entrypoint" in service:
        return expand(as_argv(service["entrypoint"]) + command)
    if "postgres" in str(service.get("image", "")) or "redis" in str(service.get("image", "")):
        return []
    # The apache/airflow entrypoint passes `bash`/`python` through and prefixes anything else with airflow.
    if command and command[0] in ("bash", "python", "python3"):
        return expand(command)
    return [["airflow", *command]]


def healthcheck_argvs(service: dict) -> list[list[str]]:
    test = (service.get("healthcheck") or {}).get("test")
    if not test:
        return []
    if isinstance(test, str):
        return shell_commands(test)
    kind, *rest = test
    if kind == "CMD-SHELL":
        return shell_commands(" ".join(rest))
    if kind == "CMD":
        return expand(rest)
    return []


@cache
def all_argvs() -> list[tuple[str, list[str]]]:
    found = []
    for name, service in services().items():
        for argv in service_argvs(service) + healthcheck_argvs(service):
            found.append((name, argv))
    return found


def airflow_calls() -> list[tuple[str, list[str]]]:
    return [(name, argv[1:]) for name, argv in all_argvs() if Path(argv[0]).name == "airflow"]


def python_calls() -> list[tuple[str, list[str]]]:
    return [
        (name, argv[1:])
        for name, argv in all_argvs()
        if re.fullmatch(r"python(3(\.\d+)?)?", Path(argv[0]).name)
    ]


def is_celery(argv: list[str]) -> bool:
    return bool(argv) and argv[0] == "celery"
