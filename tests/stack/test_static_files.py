"""The compose file, the Maven POM and environment.yml, checked without Docker or conda:
one pinned Kafka version everywhere, loopback-only ports, healthchecks, the same pins."""

from __future__ import annotations

import re
import tomllib
import xml.etree.ElementTree as ET

import yaml

from labs.stack import config

ROOT = config.PROJECT_ROOT


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_uses_the_official_images_at_the_pinned_versions():
    services = _compose()["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{config.KAFKA_VERSION}"
    assert services["redis"]["image"] == f"redis:{config.REDIS_IMAGE_VERSION}"
    assert config.REDIS_IMAGE_VERSION.startswith("7.")


def test_pom_pins_the_same_kafka_version_as_compose():
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    pom = ET.parse(ROOT / "labs" / "stack" / "pom.xml").getroot()
    assert pom.find("m:properties/m:kafka.version", ns).text == config.KAFKA_VERSION
    artifacts = [d.find("m:artifactId", ns).text for d in pom.iterfind(".//m:dependency", ns)]
    assert "kafka_2.13" in artifacts
    # exactly one SLF4J 1.x binding for Kafka 4.x
    assert [a for a in artifacts if "slf4j" in a] == ["log4j-slf4j-impl"]


def test_compose_publishes_only_loopback_ports():
    for name, svc in _compose()["services"].items():
        assert svc.get("ports"), f"{name} publishes no port"
        for port in svc["ports"]:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        assert "network_mode" not in svc


def test_compose_ports_match_the_course_endpoints():
    services = _compose()["services"]
    assert "127.0.0.1:16379:16379" in services["redis"]["ports"]
    assert "127.0.0.1:19092:19092" in services["kafka"]["ports"]
    env = services["kafka"]["environment"]
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://127.0.0.1:19092"
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # single node, KRaft
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"]), "CLUSTER_ID: base64 UUID"


def test_compose_has_healthchecks():
    for name, svc in _compose()["services"].items():
        test = svc["healthcheck"]["test"]
        assert test and test[0] in ("CMD", "CMD-SHELL"), name
    assert "kafka-broker-api-versions.sh" in " ".join(
        _compose()["services"]["kafka"]["healthcheck"]["test"]
    )
    assert "ping" in _compose()["services"]["redis"]["healthcheck"]["test"]


def test_environment_yml_has_everything_for_a_conda_user():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = [d for d in env["dependencies"] if isinstance(d, str)]
    names = {re.split(r"[=<>]", d)[0] for d in deps}
    assert {"python", "openjdk", "maven", "redis-server", "pip"} <= names
    assert "openjdk>=17" in deps
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-e .[test]"], "conda installs the same pins as pyproject.toml"


def test_python_dependencies_are_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["test"]
    for dep in deps:
        assert "==" in dep, f"{dep} is not pinned"
    names = {d.split("==")[0] for d in deps}
    needed = {"simpy", "numpy", "matplotlib", "ipywidgets", "jupyterlab", "redis",
              "kafka-python", "nbval", "jupytext", "pytest", "hypothesis", "ruff"}  # fmt: skip
    assert needed <= names
    assert next(d for d in deps if d.startswith("kafka-python==")).split("==")[1].startswith("3.")


def test_native_broker_config_binds_loopback_only(tmp_path, monkeypatch):
    from labs.stack import native

    monkeypatch.setenv("COURSE_STACK_DIR", str(tmp_path))
    props = native._server_properties(native.kafka_service())
    for line in props.splitlines():
        if line.startswith(("listeners=", "advertised.listeners=")):
            for listener in line.split("=", 1)[1].split(","):
                assert "//127.0.0.1:" in listener, line
