"""Who holds a port (trayproxy/ports.py): /proc on Linux, with this process as the holder; the
lsof, netstat and tasklist outputs it reads elsewhere; names people know."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from trayproxy.ports import (
    PortHolder,
    _describe,
    _from_proc,
    known_program,
    parse_lsof,
    parse_netstat,
    parse_tasklist,
    port_holder,
    port_is_free,
)


def test_a_listening_socket_of_ours_is_found_with_our_pid() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert port_is_free("127.0.0.1", port)[0] is False
        holder = port_holder(port)
    assert holder is not None and holder.pid == os.getpid() and holder.name
    assert str(holder).endswith(f"(pid {os.getpid()})")


def test_a_free_port_has_no_holder() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening
    assert port_holder(port) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_proc_without_permission_names_the_user(tmp_path: Path) -> None:
    """Another user's process: /proc/net/tcp shows the socket and its uid, the fds stay closed."""
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:1F6D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99999 1 0\n"
        "   1: 0100007F:1F6E 0100007F:1F6D 01 00000000:00000000 00:00000000 00000000  1000        0 88888 1 0\n")
    holder = _from_proc(8045, tmp_path)
    assert holder == PortHolder(None, None, "root") and str(holder) == "a program of the user 'root'"
    assert _from_proc(8046, tmp_path) is None  # 8046 only has an established connection


def test_lsof_netstat_and_tasklist_outputs() -> None:
    assert parse_lsof("p4242\nfantigravity\ncantigravity_tools\n") == PortHolder(4242, "antigravity_tools")
    assert parse_lsof("p77\n") == PortHolder(77, None)
    assert parse_lsof("") is None
    netstat = (
        "\nActive Connections\n\n  Proto  Local Address          Foreign Address        State           PID\n"
        "  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1020\n"
        "  TCP    127.0.0.1:8045         127.0.0.1:50123        ESTABLISHED     9\n"
        "  TCP    127.0.0.1:8045         0.0.0.0:0              ABHÖREN         4242\n"
        "  TCP    [::]:8046              [::]:0                 LISTENING       5151\n")
    assert parse_netstat(netstat, 8045) == 4242  # any language: the state word is not read
    assert parse_netstat(netstat, 8046) == 5151 and parse_netstat(netstat, 9) is None
    assert parse_tasklist('"Antigravity Tools.exe","4242","Console","1","120.000 K"\r\n') == "Antigravity Tools.exe"
    assert parse_tasklist("INFO: No tasks are running which match the specified criteria.") is None


def test_names_people_know() -> None:
    assert known_program("antigravity_tools") == "Antigravity-Manager"
    assert known_program("Antigravity Tools.exe") == "Antigravity-Manager"
    assert known_program("cli-proxy-api") == "CLIProxyAPI" and known_program("CLIProxyAPI") == "CLIProxyAPI"
    assert known_program("python3 -m trayproxy") == "trayproxy" and known_program("nginx") is None
    assert str(PortHolder(4242, "antigravity_tools")) == "Antigravity-Manager (antigravity_tools, pid 4242)"
    assert str(PortHolder(812, "nginx")) == "nginx (pid 812)"
    assert str(PortHolder(None, None)) == "another program"


@pytest.mark.parametrize(("argv", "name"), [
    (["/usr/bin/python3.11", "-m", "http.server", "8045"], "python3.11 -m http.server"),
    (["node", "/opt/app/server.js", "--port", "8045"], "node server.js"),
    (["python3", "-c", "import socket"], "python3 -c"),
    (["/Applications/Antigravity Tools.app/Contents/MacOS/Antigravity Tools"], "Antigravity Tools"),
    (["C:\\Program Files\\CLIProxyAPI\\cli-proxy-api.exe", "-config", "x"], "cli-proxy-api.exe"),
])
def test_command_lines_are_named_by_what_they_run(argv: list[str], name: str) -> None:
    assert _describe(argv) == name
