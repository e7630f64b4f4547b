"""Pieces shared by the checks of the deployment kit (tests/deploy/test_*.py)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import acmevatest as t  # noqa: E402,F401  (re-exported: the tests use t.Checks, t.SOURCE, ...)

DEBIAN_PYTHON = "/usr/bin/python3"


def need_debian_modules(*modules):
    """Imports |modules| (Debian python3-* packages: python3-yaml, python3-seccomp). When the
    interpreter ctest started lacks one (a python3 from pyenv, say), the test runs again under
    Debian's python3, where install-deps.sh put them."""
    try:
        for m in modules:
            __import__(m)
    except ImportError:
        if os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) and \
                os.path.exists(DEBIAN_PYTHON):
            sys.stdout.flush()
            os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON] + sys.argv)
        raise


def read_unit(path):
    """A systemd unit file as {section: [(key, value), ...]}, with continuation lines joined
    and comments dropped, in file order (keys such as SystemCallFilter= may repeat)."""
    sections, cur, pending = {}, None, ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if pending:
                line = pending + " " + line.strip()
                pending = ""
            elif line.lstrip().startswith(("#", ";")) or not line.strip():
                continue
            if line.endswith("\\"):
                pending = line[:-1].rstrip()
                continue
            line = line.strip()
            if line.startswith("[") and line.endswith("]"):
                cur = sections.setdefault(line[1:-1], [])
            elif "=" in line and cur is not None:
                k, v = line.split("=", 1)
                cur.append((k.strip(), v.strip()))
    return sections


def unit_values(unit, section, key):
    return [v for k, v in unit.get(section, []) if k == key]


def read_env(path):
    """An EnvironmentFile= as a dict (KEY=VALUE lines, # comments)."""
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k.strip()] = v.strip()
    return env
