"""Helpers for the simulator tests: an HTTP wrapper around requests and quick constructors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import requests

from reconciler.simulator import Simulator, SimulatorConfig, World

ELIGIBILITY = "/v1/productUpgrades/eligibility"
CREATE = "/v1/productUpgrades"


def status_path(upgrade_id: str) -> str:
    """The documented status route of an upgrade."""
    return f"/v1/productUpgrades/{upgrade_id}/status"


def new_id() -> str:
    """A fresh lower-case GUID."""
    return str(uuid.uuid4())


@dataclass
class Api:
    """requests against one simulator, with the bearer token and fresh MS ids by default."""

    sim: Simulator
    session: requests.Session

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> requests.Response:
        """POST JSON ``body`` to ``path``."""
        sent = {"MS-RequestId": request_id or new_id(), "MS-CorrelationId": new_id()}
        if auth:
            sent["Authorization"] = f"Bearer {self.sim.token}"
        sent.update(headers or {})
        return self.session.post(self.sim.url + path, json=body, headers=sent, timeout=10)

    def get(self, path: str, headers: dict[str, str] | None = None) -> requests.Response:
        """GET ``path`` with the bearer token."""
        sent = {"Authorization": f"Bearer {self.sim.token}", **(headers or {})}
        return self.session.get(self.sim.url + path, headers=sent, timeout=10)

    def eligibility(self, customer_id: str, **kw: Any) -> requests.Response:
        """Check eligibility for Azure."""
        return self.post(ELIGIBILITY, {"customerId": customer_id, "productFamily": "Azure"}, **kw)

    def create(self, customer_id: str, **kw: Any) -> requests.Response:
        """Create an Azure upgrade."""
        return self.post(CREATE, {"customerId": customer_id, "productFamily": "Azure"}, **kw)

    def status(self, upgrade_id: str, customer_id: str, **kw: Any) -> requests.Response:
        """Poll an upgrade's status."""
        body = {"customerId": customer_id, "productFamily": "Azure"}
        return self.post(status_path(upgrade_id), body, **kw)

    def upgrade(self, customer_id: str) -> str:
        """Create an upgrade and return its id (asserting the 202)."""
        answer = self.create(customer_id)
        assert answer.status_code == 202, answer.text
        return answer.headers["Location"].rsplit("/", 1)[-1]


def make_sim(**config: Any) -> Simulator:
    """A simulator with fast defaults for tests (not started)."""
    config.setdefault("completion_delay_seconds", 60.0)
    config.setdefault("seed", 7)
    return Simulator(SimulatorConfig(**config), world=World())
