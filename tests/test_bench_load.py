"""bench.load: the CURPs its wrk script makes, the scripts themselves, and reading wrk's result."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bench.load import WrkResult, curp_for, issue_lua, parse_wrk, verify_lua
from verifier._identifiers import is_valid_curp

_WRK = shutil.which("wrk")


def test_the_curps_are_valid_and_all_different() -> None:
    numbers = [*range(3000), 456_975, 456_976, 456_977, 2 * 456_976 + 1, 10**9]
    curps = [curp_for(n) for n in numbers]
    assert all(is_valid_curp(curp) for curp in curps)
    assert len(set(curps)) == len(curps)
    assert all(curp[4:10] == "850314" for curp in curps)  # the template's birth date


@pytest.mark.skipif(_WRK is None, reason="wrk is not installed (Debian: apt-get install wrk)")
def test_wrk_running_the_issue_script_sends_the_curps_python_makes(tmp_path: Path) -> None:
    bodies: list[dict[str, Any]] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            assert (self.path, self.headers["Authorization"]) == (
                "/credentials/issue",
                "Bearer id.secret",
            )
            bodies.append(json.loads(self.rfile.read(length)))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    template = json.dumps({"credential": {"credentialSubject": {"curp": "@CURP@", "n": "Ñ"}}})
    script = tmp_path / "issue.lua"
    script.write_text(issue_lua("id.secret", template), encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert _WRK is not None
        url = f"http://127.0.0.1:{server.server_address[1]}"
        argv = [_WRK, "-t1", "-c1", "-d1s", "-s", str(script), url]
        output = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    result = parse_wrk(output.stdout)
    assert result.errors == 0
    assert 0 < len(bodies) >= result.requests
    # One wrk thread (number 0): its n-th request carries the CURP of n * 64 (wrk makes a request
    # or two that it never sends while it sets up its connection).
    sent = [body["credential"]["credentialSubject"] for body in bodies]
    assert {subject["n"] for subject in sent} == {"Ñ"}
    numbers = {curp_for(n * 64): n for n in range(len(sent) + 10)}
    counters = [numbers[subject["curp"]] for subject in sent]
    assert counters == list(range(counters[0], counters[0] + len(sent)))
    assert counters[0] <= 2


def test_the_scripts_carry_the_key_and_the_bodies_verbatim() -> None:
    template = json.dumps({"credential": {"credentialSubject": {"curp": "@CURP@", "n": "Ñ]]"}}})
    issue = issue_lua("abc.def", template)
    assert '"Bearer " .. [====[abc.def]====]' in issue
    assert f"[====[{template}]====]" in issue
    assert 'wrk.format(nil, "/credentials/issue"' in issue
    verify = verify_lua('{"verifiableCredential": {}}')
    assert 'wrk.path = "/credentials/verify"' in verify
    assert 'wrk.body = [====[{"verifiableCredential": {}}]====]' in verify
    with pytest.raises(AssertionError):
        verify_lua("]====]")  # would end the Lua string early


def test_wrk_results_are_read_with_every_kind_of_error() -> None:
    output = (
        "Running 1m test @ http://127.0.0.1:8000\n  2 threads and 16 connections\n"
        'LOAD-RESULT {"requests": 6000, "duration_us": 60000000, "p50_us": 12500, '
        '"p99_us": 80250, "max_us": 99000, "connect": 1, "read": 2, "write": 3, '
        '"status": 4, "timeout": 5}\n'
    )
    result = parse_wrk(output)
    assert result == WrkResult(6000, 60.0, 12.5, 80.25, 99.0, 6, 4, 5)
    assert (result.rate, result.errors) == (100.0, 15)
    with pytest.raises(ValueError, match="no wrk result"):
        parse_wrk("Running 1m test @ http://127.0.0.1:8000\n")
