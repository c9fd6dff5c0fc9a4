"""The local stack's ports: several picked at once are distinct, so no part finds its port taken by another."""

from adaptloop_devstack.broker import free_ports, port_open


def test_ports_picked_together_are_distinct_and_free() -> None:
    for _ in range(50):
        ports = free_ports(8)
        assert len(set(ports)) == 8
    assert not any(port_open("127.0.0.1", port) for port in ports)
