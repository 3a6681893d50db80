"""Programs the native stack needs, and the exact line that installs each one.

When a program is missing the stack stops with a :class:`StackError` that names it and gives
the install line for Debian/Ubuntu, macOS and conda -- never a traceback.
"""

from __future__ import annotations

import re
import shutil
import subprocess

INSTALL = {
    "java": (
        "a Java runtime >= 17",
        "Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless | "
        "macOS: brew install openjdk@17 | conda: conda install -c conda-forge 'openjdk>=17'",
    ),
    "mvn": (
        "Apache Maven (to fetch the Kafka jars once)",
        "Debian/Ubuntu: sudo apt-get install -y maven | macOS: brew install maven | "
        "conda: conda install -c conda-forge maven",
    ),
    "redis-server": (
        "a Redis server 7.x",
        "Debian/Ubuntu: sudo apt-get install -y redis-server | macOS: brew install redis | "
        "conda: conda install -c conda-forge redis-server",
    ),
}


class StackError(RuntimeError):
    """A broker could not be started or reached; the message says why and what to do."""


def require(program: str) -> str:
    """The full path of ``program``, or a :class:`StackError` with its install line."""
    path = shutil.which(program)
    if path is None:
        what, line = INSTALL[program]
        raise StackError(f"{program} not found: the native stack needs {what}. Install it: {line}")
    return path


def java_major(java: str) -> int:
    """The major version of the Java runtime at ``java`` (e.g. 17)."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"{java} -version failed ({exc}); {INSTALL['java'][1]}") from exc
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        raise StackError(f"cannot read the Java version from `{java} -version`: {out.stderr!r}")
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def require_java(minimum: int = 17) -> str:
    java = require("java")
    major = java_major(java)
    if major < minimum:
        raise StackError(
            f"Java {major} found at {java}; Kafka {minimum}+ is needed. "
            f"Install it: {INSTALL['java'][1]}"
        )
    return java
