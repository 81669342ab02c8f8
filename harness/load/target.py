"""Before a load run against ``--target``: is it a Spine server, and does it know the scenario's
organisations?

The load driver derives every organisation's credentials from the scenario's directory (its
size and seed) and an identity secret; a reference server started with another directory or
secret refuses almost every request, and the run reports them as excluded without saying why.
The reference server publishes its directory at ``GET /harness/directory``; a server that does
not (another implementation, a real environment) is not asked anything further.
"""

from __future__ import annotations

import requests

from harness.errors import ConfigurationError
from harness.spine.contracts import MESH_BASE
from harness.spine.credentials import secret_fingerprint

DIRECTORY_PATH = "/harness/directory"


def probe_target(target: str) -> set[str] | None:
    """Check the target is a reachable Spine server; return the paths it serves (if published)."""
    try:
        ping = requests.get(f"{target}{MESH_BASE}/_ping", timeout=5, verify=False)
    except requests.RequestException as exc:
        raise ConfigurationError(f"target {target} is unreachable: {exc}") from None
    try:
        spec = requests.get(f"{target}/openapi.json", timeout=5, verify=False)
        paths = set(spec.json().get("paths", {})) if spec.status_code == 200 else None
    except (requests.RequestException, ValueError):
        paths = None
    if ping.status_code != 200 and not paths:
        raise ConfigurationError(
            f"target {target} does not look like a Spine server "
            f"(GET /messageexchange/_ping answered {ping.status_code}, no OpenAPI document)"
        )
    return paths


def directory_mismatch(
    url: str, *, organisations: int, seed: int, identity_secret: str
) -> str | None:
    """What differs between the target's directory and the scenario's, or ``None``.

    ``None`` also when the target is unreachable (the run reports that itself) or is not the
    reference server.
    """
    try:
        response = requests.get(f"{url}{DIRECTORY_PATH}", timeout=5)
        served = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None
    if not isinstance(served, dict) or "organisations" not in served or "seed" not in served:
        return None
    problems = []
    if (served["organisations"], served["seed"]) != (organisations, seed):
        problems.append(
            f"the target serves {served['organisations']:,} organisations with seed "
            f"{served['seed']}, the scenario {organisations:,} with seed {seed}: start the "
            f"server with `harness serve --organisations {organisations} --seed {seed}`"
        )
    if served.get("identity_secret_fingerprint") not in (None, secret_fingerprint(identity_secret)):
        problems.append(
            "the target derives API keys from another identity secret: give the driver the "
            "server's with `--credentials FILE` (identity_secret: …)"
        )
    return "; ".join(problems) or None
