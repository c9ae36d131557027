"""The HTTP server itself: keep-alive, concurrency, lifecycle."""

from __future__ import annotations

import http.client
import json
import socket
import threading

import pytest
import requests

from reconciler.simulator import Simulator
from tests.simulator.helpers import make_sim, new_id


def _connection(sim: Simulator) -> http.client.HTTPConnection:
    host, port = sim.address
    return http.client.HTTPConnection(host, port, timeout=10)


def _eligibility(conn: http.client.HTTPConnection, sim: Simulator, customer: str) -> int:
    body = json.dumps({"customerId": customer, "productFamily": "Azure"})
    conn.request(
        "POST",
        "/v1/productUpgrades/eligibility",
        body,
        {"Authorization": f"Bearer {sim.token}", "Content-Type": "application/json"},
    )
    answer = conn.getresponse()
    answer.read()
    return answer.status


def test_keep_alive_serves_many_requests_on_one_connection(sim: Simulator, customer: str) -> None:
    conn = _connection(sim)
    try:
        assert [_eligibility(conn, sim, customer) for _ in range(5)] == [200] * 5
        local = conn.sock.getsockname()
        assert _eligibility(conn, sim, customer) == 200
        assert conn.sock.getsockname() == local  # same socket: the connection was kept
    finally:
        conn.close()


def test_connection_close_is_honoured(sim: Simulator, customer: str) -> None:
    answer = requests.post(
        sim.url + "/v1/productUpgrades/eligibility",
        json={"customerId": customer, "productFamily": "Azure"},
        headers={"Authorization": f"Bearer {sim.token}", "Connection": "close"},
        timeout=5,
    )
    assert answer.status_code == 200
    assert answer.headers["Connection"] == "close"


def test_64_concurrent_keep_alive_connections(sim: Simulator, customer: str) -> None:
    connections = [_connection(sim) for _ in range(64)]
    for conn in connections:
        conn.connect()
    barrier = threading.Barrier(64)
    results: list[int] = []
    lock = threading.Lock()

    def client(conn: http.client.HTTPConnection) -> None:
        barrier.wait()  # every connection is open before any request goes out
        statuses = [_eligibility(conn, sim, customer) for _ in range(3)]
        with lock:
            results.extend(statuses)

    threads = [threading.Thread(target=client, args=(c,)) for c in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for conn in connections:
        conn.close()
    assert results == [200] * 192


def test_malformed_request_line_is_400() -> None:
    with make_sim() as sim:
        host, port = sim.address
        with socket.create_connection((host, port), timeout=5) as raw:
            raw.sendall(b"NONSENSE\r\n\r\n")
            assert raw.recv(100).startswith(b"HTTP/1.1 400")


def test_stop_closes_keep_alive_connections(customer: str) -> None:
    running = make_sim().start()
    session = requests.Session()
    url = running.url
    running.world.add_customer(customer)
    headers = {"Authorization": f"Bearer {running.token}"}
    body = {"customerId": customer, "productFamily": "Azure"}
    assert (
        session.post(
            url + "/v1/productUpgrades/eligibility", json=body, headers=headers, timeout=5
        ).status_code
        == 200
    )
    running.stop()
    with pytest.raises(requests.ConnectionError):
        session.post(url + "/v1/productUpgrades/eligibility", json=body, headers=headers, timeout=5)


def test_url_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        _ = make_sim().url


def test_context_manager_starts_and_stops() -> None:
    with make_sim() as running:
        customer = new_id()
        running.world.add_customer(customer)
        assert running.url.startswith("http://127.0.0.1:")
    with pytest.raises(RuntimeError):
        _ = running.url


def test_chunked_request_body(sim: Simulator, customer: str) -> None:
    body = json.dumps({"customerId": customer, "productFamily": "Azure"}).encode()
    answer = requests.post(
        sim.url + "/v1/productUpgrades/eligibility",
        data=iter([body[:10], body[10:]]),  # a generator body is sent chunked
        headers={"Authorization": f"Bearer {sim.token}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert answer.status_code == 200
    assert sim.requests[-1].header("Transfer-Encoding") == "chunked"
    assert answer.json()["isEligible"] is True


def _concurrent_creates(sim: Simulator, customer: str, request_ids: list[str]) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(request_ids))

    def create(request_id: str) -> None:
        barrier.wait()
        answer = requests.post(
            sim.url + "/v1/productUpgrades",
            json={"customerId": customer, "productFamily": "Azure"},
            headers={"Authorization": f"Bearer {sim.token}", "MS-RequestId": request_id},
            timeout=10,
        )
        with lock:
            statuses.append(answer.status_code)

    threads = [threading.Thread(target=create, args=(r,)) for r in request_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(statuses)


def test_racing_creates_make_one_upgrade(sim: Simulator, customer: str) -> None:
    statuses = _concurrent_creates(sim, customer, [new_id() for _ in range(16)])
    assert statuses == [202] + [409] * 15
    assert len(sim.world.upgrades_for(customer)) == 1
    assert sim.stats.duplicates == 15


def test_racing_replays_of_one_request_id_agree(sim: Simulator, customer: str) -> None:
    statuses = _concurrent_creates(sim, customer, [new_id()] * 16)
    assert statuses == [202] * 16
    assert len(sim.world.upgrades_for(customer)) == 1
    assert sim.stats.replays == 15


def test_head_gets_headers_only_and_keeps_the_connection(sim: Simulator, customer: str) -> None:
    conn = _connection(sim)
    try:
        conn.request("HEAD", "/v1/customers", headers={"Authorization": f"Bearer {sim.token}"})
        head = conn.getresponse()
        assert head.status == 405
        assert head.read() == b""
        assert _eligibility(conn, sim, customer) == 200
    finally:
        conn.close()
