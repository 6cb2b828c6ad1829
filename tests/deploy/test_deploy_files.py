"""The deployment files, checked without a Docker engine: parsed, cross-checked with the code.

Every variable the application reads must be documented in `.env.example`; the compose file and
the Render Blueprint must only set variables that exist, and must hand the containers a
configuration the production settings accept.
"""

from __future__ import annotations

import ast
import ipaddress
import re
import secrets
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.deploy.deploy_support import ROOT, known_variables, setting_variables, start_module
from ticketflow.lib.signed_codes import generate_signing_key
from ticketflow.settings import (
    DEFAULT_JWT_SECRET,
    DEFAULT_SESSION_SECRET,
    Settings,
    SettingsError,
    environment_variable,
)

ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE_FILE = ROOT / "docker-compose.yml"
RENDER_FILE = ROOT / "render.yaml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
ASSIGNMENT = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")
INTERPOLATION = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}")
REQUIRED_SECRETS = {"JWT_SECRET", "SESSION_SECRET", "METRICS_TOKEN", "MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD"}
SECRETS = REQUIRED_SECRETS
THIRD_PARTY_SECRETS = {"SMTP_PASSWORD", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET"}


# --- .env.example -------------------------------------------------------------------------------


def env_example_entries() -> dict[str, tuple[int, str]]:
    """Variable -> (line index, documented value), for `KEY=value` and `# KEY=value` lines."""
    entries: dict[str, tuple[int, str]] = {}
    for index, line in enumerate(ENV_EXAMPLE.read_text().splitlines()):
        match = ASSIGNMENT.match(line)
        if match:
            assert match[1] not in entries, f"{match[1]} is listed twice in .env.example"
            entries[match[1]] = (index, match[2])
    return entries


def variables_read_in_code() -> set[str]:
    """Literal names read through `os.environ[...]`, `os.environ.get(...)`, `os.getenv(...)`."""
    found: set[str] = set()
    paths = [*sorted((ROOT / "src").rglob("*.py")), ROOT / "deploy" / "start.py"]
    for path in paths:
        tree = ast.parse(path.read_text(), filename=str(path))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name) and isinstance(node.value.value, str)
        }

        def name_of(argument: ast.expr, constants: dict[str, Any] = constants) -> str | None:
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                return argument.value
            if isinstance(argument, ast.Name):
                return constants.get(argument.id)
            return None

        for node in ast.walk(tree):
            receiver: ast.expr | None = None
            argument: ast.expr | None = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                if node.func.attr == "get":
                    receiver, argument = node.func.value, node.args[0]
                elif node.func.attr == "getenv":
                    receiver, argument = ast.Name(id="environ"), node.args[0]
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                receiver, argument = node.value, node.slice
            if receiver is None or argument is None:
                continue
            receiver_name = (
                receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
            )
            variable = name_of(argument)
            if receiver_name == "environ" and variable is not None:
                found.add(variable)
    return found


def test_env_example_lists_every_setting_with_a_comment() -> None:
    entries = env_example_entries()
    lines = ENV_EXAMPLE.read_text().splitlines()
    missing = setting_variables() - entries.keys()
    assert not missing, f".env.example lacks {sorted(missing)}"
    for variable, (index, _) in entries.items():
        above = index - 1
        while above >= 0 and ASSIGNMENT.match(lines[above]):
            above -= 1  # a group of related variables shares one description
        assert above >= 0, variable
        assert lines[above].startswith("# "), f"{variable} has no comment above it"
        assert len(lines[above]) > 10, f"{variable}: the comment above it says nothing"


def test_env_example_lists_every_variable_the_code_reads() -> None:
    read = variables_read_in_code()
    assert "DATABASE_URL" in read  # the scan sees the start script's reads
    assert "PROMETHEUS_MULTIPROC_DIR" in read  # and the application's, through a constant
    missing = read - env_example_entries().keys()
    assert not missing, f"read by the code but not in .env.example: {sorted(missing)}"


def test_env_example_lists_only_variables_that_exist() -> None:
    unknown = env_example_entries().keys() - known_variables()
    assert not unknown, f".env.example documents variables nothing reads: {sorted(unknown)}"


def test_env_example_documents_the_real_defaults() -> None:
    """Uncommented, the example gives exactly the default settings (secrets are left empty)."""
    environ = {
        variable: value
        for variable, (_, value) in env_example_entries().items()
        if variable in setting_variables() and not (variable in SECRETS and value == "")
    }
    documented = Settings.from_env(environ=environ, env_file=None)
    defaults = Settings()
    wrong = [
        environment_variable(spec.name)
        for spec in fields(Settings)
        if getattr(documented, spec.name) != getattr(defaults, spec.name)
    ]
    assert not wrong, f".env.example shows other values than the defaults for {wrong}"
    for variable in ("JWT_SECRET", "SESSION_SECRET"):
        assert env_example_entries()[variable][1] == "", f"{variable} must not have a sample value"
    assert DEFAULT_JWT_SECRET not in ENV_EXAMPLE.read_text()
    assert DEFAULT_SESSION_SECRET not in ENV_EXAMPLE.read_text()


# --- docker-compose.yml -------------------------------------------------------------------------


def load_yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def interpolate(value: str, dotenv: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}` against `dotenv`."""

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match[1], match[2], match[3]
        if dotenv.get(name):
            return dotenv[name]
        if operator in (":?", "?"):
            raise KeyError(f"{name}: {argument}")
        return argument or ""

    return INTERPOLATION.sub(replace, value)


def sample_dotenv() -> dict[str, str]:
    """A `.env` a user writes by following the instructions in .env.example."""
    return {
        "JWT_SECRET": secrets.token_urlsafe(48),
        "SESSION_SECRET": secrets.token_urlsafe(48),
        "MYSQL_PASSWORD": secrets.token_hex(24),
        "MYSQL_ROOT_PASSWORD": secrets.token_hex(24),
        "METRICS_TOKEN": secrets.token_urlsafe(32),
        "STRIPE_API_KEY": "sk_test_" + secrets.token_hex(12),
        "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(12),
        "TICKET_SIGNING_KEYS": generate_signing_key(1),
    }


def compose_environment(service: dict[str, Any], dotenv: dict[str, str]) -> dict[str, str]:
    return {key: interpolate(str(value), dotenv) for key, value in service["environment"].items()}


def test_compose_defines_the_stack() -> None:
    compose = load_yaml(COMPOSE_FILE)
    services = compose["services"]
    assert set(services) == {"api", "worker", "mysql", "mailpit"}

    mysql = services["mysql"]
    assert mysql["image"] == "mysql:8.4"
    volume, mount = mysql["volumes"][0].split(":")
    assert mount == "/var/lib/mysql"
    assert volume in compose["volumes"]
    assert "mysqladmin ping" in " ".join(mysql["healthcheck"]["test"])

    # published on the host's loopback only: Mailpit shows every ticket e-mail to whoever opens
    # it, and the API needs a TLS proxy in front for anyone else
    assert services["mailpit"]["ports"] == ["127.0.0.1:8025:8025"]
    assert services["api"]["ports"] == ["127.0.0.1:8000:8000"]
    assert services["api"]["command"][-2:] == ["/app/deploy/start.py", "api"]
    assert services["worker"]["command"][-2:] == ["/app/deploy/start.py", "worker"]
    for name in ("api", "worker"):
        service = services[name]
        assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert service["depends_on"]["mysql"]["condition"] == "service_healthy"
        assert service["env_file"] == ".env"
        assert service["init"] is True
    # SIGTERM gives uvicorn 20 s for in-flight requests; compose must wait longer than that
    assert int(services["api"]["stop_grace_period"].rstrip("s")) > 20
    assert "worker" not in services["api"]["command"]


def test_compose_sets_only_known_variables_and_a_working_production_config() -> None:
    compose = load_yaml(COMPOSE_FILE)
    documented = env_example_entries().keys()
    referenced = {match[1] for match in INTERPOLATION.finditer(COMPOSE_FILE.read_text())}
    assert referenced <= documented, f"compose reads undocumented {sorted(referenced - documented)}"
    dotenv = sample_dotenv()
    for name in ("api", "worker"):
        environment = compose_environment(compose["services"][name], dotenv)
        assert environment.keys() <= known_variables(), sorted(environment.keys() - known_variables())
        # env_file first, `environment` wins; validated like production
        settings = Settings.from_env(environ={**dotenv, **environment}, env_file=None)
        assert settings.is_production
        assert settings.log_json
        assert not settings.worker_in_process, "the worker service runs the jobs"
        url = make_url(settings.database_url)
        assert (url.drivername, url.host, url.port, url.password) == (
            "mysql+asyncmy",
            "mysql",
            3306,
            dotenv["MYSQL_PASSWORD"],
        )
        assert (settings.mail_transport, settings.smtp_host, settings.smtp_port) == ("smtp", "mailpit", 1025)
        assert settings.payment_provider == "stripe"
        assert settings.forwarded_allow_ips == "127.0.0.1"  # no proxy in front of the published port
    mysql = compose_environment(compose["services"]["mysql"], dotenv)
    assert mysql["MYSQL_PASSWORD"] == dotenv["MYSQL_PASSWORD"]


@pytest.mark.parametrize("secret", sorted(REQUIRED_SECRETS))
def test_compose_refuses_to_start_without_each_secret(secret: str) -> None:
    compose = load_yaml(COMPOSE_FILE)
    dotenv = sample_dotenv()
    del dotenv[secret]
    environments = [service for service in compose["services"].values() if "environment" in service]

    def render_all() -> None:
        for service in environments:
            compose_environment(service, dotenv)

    with pytest.raises(KeyError, match=secret):
        render_all()


@pytest.mark.parametrize(
    ("dotenv_changes", "refused"),
    [
        ({"PAYMENT_PROVIDER": "simulated"}, "ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION"),
        ({"STRIPE_API_KEY": ""}, "STRIPE_API_KEY"),
        ({"PUBLIC_BASE_URL": "http://tickets.example.org"}, "PUBLIC_BASE_URL"),
    ],
)
def test_compose_does_not_start_giving_tickets_away(dotenv_changes: dict[str, str], refused: str) -> None:
    compose = load_yaml(COMPOSE_FILE)
    dotenv = {**sample_dotenv(), **dotenv_changes}
    environment = compose_environment(compose["services"]["api"], dotenv)
    with pytest.raises(SettingsError, match=refused):
        Settings.from_env(environ={**dotenv, **environment}, env_file=None)


@pytest.mark.parametrize("path", [COMPOSE_FILE, RENDER_FILE])
def test_shipped_files_never_allow_simulated_payments_nor_trust_every_proxy(path: Path) -> None:
    settings_lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(settings_lines)
    assert "simulated" not in text
    assert "ALLOW_SIMULATED_PAYMENTS_IN_PRODUCTION" not in text
    assert "FORWARDED_ALLOW_IPS" in text
    assert '"*"' not in text


# --- render.yaml --------------------------------------------------------------------------------


def render_service(blueprint: dict[str, Any], name: str) -> dict[str, Any]:
    service: dict[str, Any] = next(s for s in blueprint["services"] if s["name"] == name)
    return service


def render_environment(blueprint: dict[str, Any], service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Variable -> its Render definition, with the env groups the service uses expanded."""
    groups = {group["name"]: group["envVars"] for group in blueprint["envVarGroups"]}
    resolved: dict[str, dict[str, Any]] = {}
    for entry in service.get("envVars", []):
        if "fromGroup" in entry:
            resolved.update({item["key"]: item for item in groups[entry["fromGroup"]]})
        else:
            resolved[entry["key"]] = entry
    return resolved


def entered_value(key: str) -> str:
    """What a user types for a `sync: false` variable when applying the Blueprint."""
    return generate_signing_key(1) if key == "TICKET_SIGNING_KEYS" else f"entered-{key.lower()}"


def simulated_render_values(
    blueprint: dict[str, Any], environment: dict[str, dict[str, Any]], generated: dict[str, str]
) -> dict[str, str]:
    """The values Render would give: generated secrets, hosts, and answers to `sync: false`."""
    values: dict[str, str] = {}
    for key, entry in environment.items():
        if "value" in entry:
            values[key] = str(entry["value"])
        elif entry.get("generateValue"):
            values[key] = generated.setdefault(key, secrets.token_urlsafe(32) + "+/=")
        elif "fromService" in entry:
            source = entry["fromService"]
            assert any(
                s["name"] == source["name"] and s["type"] == source["type"] for s in blueprint["services"]
            )
            if "envVarKey" in source:
                origin = render_environment(blueprint, render_service(blueprint, source["name"]))
                assert source["envVarKey"] in origin, entry
                assert origin[source["envVarKey"]].get("sync") is False, entry
                values[key] = entered_value(source["envVarKey"])
            else:
                values[key] = {
                    "host": "ticketflow-mysql",
                    "port": "3306",
                    "connectionString": "redis://red-ticketflow-limits:6379",
                }[source["property"]]
        else:
            assert entry.get("sync") is False, entry
            values[key] = entered_value(key)
    values["PUBLIC_BASE_URL"] = "https://tickets.example.org"
    return values


def test_render_blueprint_defines_web_worker_and_mysql() -> None:
    blueprint = load_yaml(RENDER_FILE)
    web = render_service(blueprint, "ticketflow-api")
    worker = render_service(blueprint, "ticketflow-worker")
    mysql = render_service(blueprint, "ticketflow-mysql")
    assert (web["type"], worker["type"], mysql["type"]) == ("web", "worker", "pserv")
    assert web["healthCheckPath"] == "/ready"
    assert web["preDeployCommand"] == "python /app/deploy/start.py migrate"
    assert web["dockerCommand"].startswith("python /app/deploy/start.py api")
    assert worker["dockerCommand"] == "python /app/deploy/start.py worker"
    for service in (web, worker, mysql):
        assert service["runtime"] == "docker"
        assert (ROOT / service["dockerContext"]).is_dir()
        assert (ROOT / service["dockerfilePath"]).is_file()
    assert web["dockerfilePath"] == worker["dockerfilePath"] == "./deploy/Dockerfile"
    assert mysql["disk"]["mountPath"] == "/var/lib/mysql"
    assert mysql["disk"]["sizeGB"] >= 1
    # MySQL keeps its data below the disk's root (a fresh disk holds lost+found)
    mysql_config = (ROOT / mysql["dockerContext"] / "ticketflow.cnf").read_text()
    datadir = re.search(r"^datadir\s*=\s*(\S+)", mysql_config, re.MULTILINE)
    assert datadir is not None
    assert datadir[1].startswith(mysql["disk"]["mountPath"] + "/")
    assert "FROM mysql:8.4" in (ROOT / mysql["dockerfilePath"]).read_text()


def test_render_secrets_are_generated_or_entered_never_written() -> None:
    blueprint = load_yaml(RENDER_FILE)
    for service in blueprint["services"]:
        environment = render_environment(blueprint, service)
        assert environment.keys() <= known_variables(), sorted(environment.keys() - known_variables())
        for key, entry in environment.items():
            if key in SECRETS:
                assert entry.get("generateValue") is True, f"{service['name']}: {key} must be generated"
            if key in THIRD_PARTY_SECRETS:
                assert "value" not in entry, f"{service['name']}: {key} written in the Blueprint"


@pytest.mark.parametrize("name", ["ticketflow-api", "ticketflow-worker"])
def test_render_services_get_a_working_production_config(name: str) -> None:
    blueprint = load_yaml(RENDER_FILE)
    generated: dict[str, str] = {}
    mysql_values = simulated_render_values(
        blueprint, render_environment(blueprint, render_service(blueprint, "ticketflow-mysql")), generated
    )
    values = simulated_render_values(
        blueprint, render_environment(blueprint, render_service(blueprint, name)), generated
    )
    url = start_module().database_url_from_parts(values)
    assert url is not None, "DATABASE_URL cannot be built from the MYSQL_* variables"
    settings = Settings.from_env(environ={**values, "DATABASE_URL": url}, env_file=None)
    assert settings.is_production
    assert not settings.worker_in_process
    parsed = make_url(settings.database_url)
    assert parsed.host == "ticketflow-mysql"
    assert parsed.username == mysql_values["MYSQL_USER"]
    assert parsed.password == mysql_values["MYSQL_PASSWORD"]  # the same generated password
    assert parsed.database == mysql_values["MYSQL_DATABASE"]
    assert settings.payment_provider == "stripe"
    assert not settings.allow_simulated_payments_in_production
    assert len(settings.metrics_token) >= 32  # the API is public: so would /metrics be
    if name == "ticketflow-api":
        # two processes: the attempt limits live in the Blueprint's private Key Value instance
        assert settings.server_workers > 1
        assert settings.redis_url.startswith("redis://")
        limits = render_service(blueprint, "ticketflow-limits")
        assert limits["type"] == "keyvalue"
        assert limits["ipAllowList"] == []
        # behind Render's proxy: private networks only, never every peer
        assert "*" not in settings.forwarded_allow_ips
        for network in settings.forwarded_allow_ips.split(","):
            assert not ipaddress.ip_network(network).is_global, network


# --- Dockerfile ---------------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions (continuation lines joined), grouped by stage."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


def test_dockerfile_is_multi_stage_locked_unprivileged_and_health_checked() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    build, runtime = stages[0], stages[-1]
    build_text = " ".join(arguments for _, arguments in build)
    assert "requirements.lock" in build_text
    assert "--constraint requirements.lock" in build_text
    runtime_instructions = dict(runtime)
    assert "--from=build" in " ".join(a for i, a in runtime if i == "COPY")
    user = runtime_instructions["USER"].split(":")[0]
    assert user not in {"root", "0"}
    assert runtime_instructions["HEALTHCHECK"].endswith('CMD ["python", "/app/deploy/start.py", "health"]')
    assert runtime_instructions["CMD"] == '["python", "/app/deploy/start.py", "api"]'
    assert runtime_instructions["EXPOSE"] == "8000"
    # the runtime stage installs nothing: no compiler, no pip run there
    assert not any(instruction == "RUN" and "pip " in arguments for instruction, arguments in runtime)


def test_dockerfile_copies_only_what_the_build_context_keeps() -> None:
    ignore = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore
    copied = {
        source
        for stage in dockerfile_stages()
        for instruction, arguments in stage
        if instruction == "COPY" and not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    }
    assert {"requirements.lock", "src", "migrations", "deploy/start.py"} <= copied
    for path in copied:
        assert (ROOT / path).exists(), path
        assert path.rstrip("/") in kept, f"{path} is excluded from the build context"
    assert ".env" not in kept


def test_runtime_dependencies_are_pinned_in_the_lock_file() -> None:
    """The image installs the runtime dependencies constrained by the lock file: all are pinned."""

    def normalise(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = {
        normalise(line.split("==")[0])
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    wanted = {normalise(re.split(r"[\[<>=!~ ;]", requirement)[0]) for requirement in project["dependencies"]}
    assert wanted <= pinned, f"not pinned in requirements.lock: {sorted(wanted - pinned)}"
    assert "uvicorn" in wanted
