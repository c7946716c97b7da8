"""Resolve the broker jars: Maven copies the launcher pom's dependencies once per Kafka version."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from ops.kafka.broker_config import LauncherError

KAFKA_DIR = Path(__file__).resolve().parent
POM_PATH = KAFKA_DIR / "pom.xml"
# Written last into a resolved libs dir: a dir without it is incomplete and is resolved again.
_MARKER = ".complete"


def kafka_version(pom: Path = POM_PATH) -> str:
    """Read the broker version from the `kafka.version` property of the launcher's pom."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", ns)  # noqa: S314 (our file)
    if node is None or not node.text:
        raise LauncherError(f"no kafka.version property in {pom}")
    return node.text.strip()


def default_libs_dir(version: str) -> Path:
    return Path.home() / ".cache" / "dbsync2" / "kafka-libs" / version


def resolve_kafka_libs(libs_dir: Path | None = None, pom: Path = POM_PATH) -> Path:
    """Return a directory with every broker jar, running Maven only if it is not cached yet."""
    target = libs_dir if libs_dir is not None else default_libs_dir(kafka_version(pom))
    if (target / _MARKER).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Resolve into a sibling temp dir and rename, so concurrent starts never see half a libs dir.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    mvn_goal = ["-B", "-ntp", "dependency:copy-dependencies", "-DincludeScope=runtime"]
    argv = ["mvn", "-f", str(pom), *mvn_goal, f"-DoutputDirectory={staging}"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise LauncherError(f"mvn failed ({done.returncode}):\n{done.stdout[-4000:]}")
    (staging / _MARKER).write_text(kafka_version(pom) + "\n")
    try:
        staging.rename(target)
    except OSError:  # another process won the race (or a stale, unmarked dir is there)
        if not (target / _MARKER).exists():
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        else:
            shutil.rmtree(staging, ignore_errors=True)
    return target
