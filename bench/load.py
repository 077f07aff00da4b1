"""``make load``: the issuer API under uvicorn with several workers, driven over loopback by wrk.

Sixty seconds each (``CREDENCIAL_LOAD_SECONDS``) on ``POST /credentials/issue`` (an API key, a
new person in every request: the wrk Lua script makes a valid CURP from a per-thread counter) and
on ``POST /credentials/verify`` (one issued credential, checked against the deployment's keys
and current status lists). Printed per endpoint: requests per second, p50 and p99 latency, and the
errors (socket errors, timeouts and HTTP status >= 400), which must be zero (exit status 1
otherwise), next to a reference measured in the same run: the same operation in-process, in one
thread, without HTTP. After the issue run the database is checked: no status index used twice.

The database is PostgreSQL (the throwaway server of ``tests/postgres.py``: several workers are
several processes writing at once, which is what PostgreSQL is deployed for), or an SQLite file
(WAL) where PostgreSQL is not installed, with a note. Without wrk (Debian: ``apt-get install
wrk``) it says so and exits 0. ``CREDENCIAL_LOAD_WORKERS`` (default: 4),
``CREDENCIAL_LOAD_CONNECTIONS`` (default: 16).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:
    from fastapi import FastAPI

    from issuer.settings import IssuerSettings

__all__ = [
    "WrkResult",
    "create_app_from_env",
    "curp_for",
    "issue_lua",
    "main",
    "parse_wrk",
    "verify_lua",
]

_PASSPHRASE = "load-benchmark-passphrase"  # noqa: S105 (throwaway benchmark keys)
_ROOT = Path(__file__).resolve().parent.parent
#: The person every issue request is about, but for the CURP (``@CURP@``), made by the script.
_BIRTH = "1985-03-14"
_RESULT_MARK = "LOAD-RESULT "


def create_app_from_env() -> FastAPI:
    """The app of one uvicorn worker (``--factory``): settings from ``CREDENCIAL_*``."""
    from issuer.app import create_app
    from issuer.settings import IssuerSettings

    return create_app(IssuerSettings())


# -- wrk scripts ----------------------------------------------------------------------------------

_CURP_LUA = r"""
-- LuaJIT (wrk's Lua 5.1): numbers are doubles, exact up to 2^53; no // operator.
local curp_value = {}
for i = 0, 9 do curp_value[tostring(i)] = i end
local letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
for i = 1, #letters do
  local c = letters:sub(i, i)
  -- 0-9, A-N, then Ñ (24), O-Z: O..Z are worth one more than their place among plain letters
  curp_value[c] = (c <= "N") and (9 + i) or (10 + i)
end
local consonants = "BCDFGHJKLMNPQRSTVWXYZ"

local function digits(n, base, width, alphabet)
  local out = {}
  for _ = 1, width do
    local d = n % base
    table.insert(out, 1, alphabet:sub(d + 1, d + 1))
    n = (n - d) / base
  end
  return table.concat(out)
end

-- A valid, unique CURP for number n (born 1985-03-14: the template's birth date).
function make_curp(n)
  local first17 = digits(n % 456976, 26, 4, letters) .. "850314" .. ((n % 2 == 0) and "H" or "M")
    .. "DF" .. digits(math.floor(n / 456976) % 9261, 21, 3, consonants) .. "0"
  local total = 0
  for i = 1, 17 do total = total + curp_value[first17:sub(i, i)] * (19 - i) end
  return first17 .. tostring((10 - total % 10) % 10)
end
"""

_DONE_LUA = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
    .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    "%s", summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def _lua_string(text: str) -> str:
    """``text`` as a Lua long string literal."""
    level = "=" * 4
    assert f"]{level}]" not in text
    return f"[{level}[{text}]{level}]"


def issue_lua(api_key: str, template: str) -> str:
    """The wrk script of the issue run: ``template`` with a new CURP (``@CURP@``) per request."""
    return (
        _CURP_LUA
        + f"""
local threads = 0
function setup(thread)
  thread:set("thread_number", threads)
  threads = threads + 1
end
function init(args)
  sent = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. {_lua_string(api_key)}
  template = {_lua_string(template)}
end
function request()
  local curp = make_curp(sent * 64 + thread_number)
  sent = sent + 1
  return wrk.format(nil, "/credentials/issue", nil, (template:gsub("@CURP@", curp)))
end
"""
        + _DONE_LUA.replace('"%s", summary', f'"{_RESULT_MARK}", summary')
    )


def verify_lua(body: str) -> str:
    """The wrk script of the verify run: the same credential in every request."""
    return f"""
wrk.method = "POST"
wrk.path = "/credentials/verify"
wrk.headers["Content-Type"] = "application/json"
wrk.body = {_lua_string(body)}
""" + _DONE_LUA.replace('"%s", summary', f'"{_RESULT_MARK}", summary')


@dataclass(frozen=True)
class WrkResult:
    """What wrk measured: requests, seconds, latency percentiles, and every kind of error."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int  #: connect, read and write errors
    status_errors: int  #: answers with HTTP status >= 400
    timeouts: int

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds

    @property
    def errors(self) -> int:
        """Every request that did not get a successful answer."""
        return self.socket_errors + self.status_errors + self.timeouts


def parse_wrk(output: str) -> WrkResult:
    """The result line the scripts' ``done`` prints; ValueError if there is none."""
    for line in output.splitlines():
        if line.startswith(_RESULT_MARK):
            data = json.loads(line.removeprefix(_RESULT_MARK))
            return WrkResult(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1e3,
                p99_ms=data["p99_us"] / 1e3,
                max_ms=data["max_us"] / 1e3,
                socket_errors=data["connect"] + data["read"] + data["write"],
                status_errors=data["status"],
                timeouts=data["timeout"],
            )
    raise ValueError(f"no wrk result in its output:\n{output}")


# -- the deployment -------------------------------------------------------------------------------


@contextlib.contextmanager
def _database(directory: Path) -> Iterator[tuple[str, str]]:
    """(URL, description): a throwaway PostgreSQL database, else an SQLite file."""
    try:
        sys.path.insert(0, str(_ROOT))
        from tests.postgres import PostgresServer, PostgresUnavailableError
    except ImportError as exc:  # an installed copy without the tests
        yield f"sqlite:///{directory / 'issuer.db'}", f"SQLite (WAL): no tests/postgres.py ({exc})"
        return
    try:
        server = PostgresServer().start()
    except PostgresUnavailableError as exc:
        yield f"sqlite:///{directory / 'issuer.db'}", f"SQLite (WAL): {exc}"
        return
    try:
        name = server.create_database("load")
        yield server.url(name), "PostgreSQL (throwaway server: fsync and synchronous_commit off)"
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _rate(operation: Callable[[], object], seconds: float = 3.0) -> float:
    """Operations per second of ``operation`` in this process (after one warm-up run)."""
    operation()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        operation()
        done += 1
    return done / (time.perf_counter() - start)


@contextlib.contextmanager
def _uvicorn(env: dict[str, str], workers: int, log: Path) -> Iterator[str]:
    """``uvicorn --workers N`` serving the issuer on a loopback port; yields its base URL."""
    port = _free_port()
    argv = [
        sys.executable, "-m", "uvicorn", "--factory", "bench.load:create_app_from_env",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    with log.open("wb") as output:
        server = subprocess.Popen(argv, cwd=_ROOT, env=env, stdout=output, stderr=output)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/institutions/IMSS/did.json", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"uvicorn did not start:\n{log.read_text()}") from None
                time.sleep(0.2)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wrk(wrk: str, script: Path, base: str, seconds: int, connections: int) -> WrkResult:
    threads = min(2, connections)
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    completed = subprocess.run(
        [*argv, "-s", str(script), base], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}):\n{completed.stderr}")
    return parse_wrk(completed.stdout)


def _duplicate_indices(database_url: str) -> tuple[int, int]:
    """(credentials stored, status indices used by more than one of them)."""
    from sqlalchemy import func, select

    from issuer.storage.database import Database
    from issuer.storage.tables import Credential

    database = Database(database_url)
    try:
        with database.read() as session:
            count = session.scalar(select(func.count()).select_from(Credential)) or 0
            place = (Credential.institution_code, Credential.list_number, Credential.status_index)
            duplicates = session.execute(
                select(*place).group_by(*place).having(func.count() > 1)
            ).all()
        return count, len(duplicates)
    finally:
        database.dispose()


def _row(name: str, result: WrkResult, reference: float) -> str:
    return (
        f"{name:<26} {result.rate:>9,.1f} {result.p50_ms:>8.1f}ms {result.p99_ms:>8.1f}ms "
        f"{result.errors:>7,d} {reference:>13,.1f} {result.rate / reference:>8.2f}"
    )


def curp_for(number: int) -> str:
    """The CURP the wrk script makes for ``number`` (the same rule, in Python)."""
    from verifier import curp_check_digit

    letters, consonants = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "BCDFGHJKLMNPQRSTVWXYZ"

    def digits(value: int, alphabet: str, width: int) -> str:
        out = ""
        for _ in range(width):
            value, digit = divmod(value, len(alphabet))
            out = alphabet[digit] + out
        return out

    first17 = (
        f"{digits(number % 26**4, letters, 4)}850314{'HM'[number % 2]}DF"
        f"{digits((number // 26**4) % 21**3, consonants, 3)}0"
    )
    return first17 + curp_check_digit(first17)


@dataclass(frozen=True)
class _References:
    """In-process rates and what the wrk scripts need."""

    issue_rate: float
    verify_rate: float
    api_key: str
    issue_template: str
    verify_body: str


def _references(settings: IssuerSettings) -> _References:
    """Bootstrap the deployment, create the API key, and time both operations in-process."""
    from issuer.credentials.service import IssuerService
    from issuer.demo import DEMO_PEOPLE
    from issuer.principal import Principal

    subject = {**DEMO_PEOPLE["credential"], "birthDate": _BIRTH}
    principal = Principal("load", "IMSS", frozenset({"issue"}))
    numbers = iter(range(10**9, 2 * 10**9))  # not the numbers the wrk script uses
    service = IssuerService(settings)
    try:
        service.bootstrap()
        api_key = service.create_client("IMSS", "load", ["issue"], actor="load")

        def issue() -> dict[str, Any]:
            body = {"credentialSubject": {**subject, "curp": curp_for(next(numbers))}}
            return service.issue(principal, body).document

        issue_rate = _rate(issue)
        document = issue()
        verify_rate = _rate(lambda: service.verifier().check(document))
    finally:
        service.db.dispose()
    template = {"credential": {"credentialSubject": {**subject, "curp": "@CURP@"}}}
    return _References(
        issue_rate,
        verify_rate,
        api_key,
        json.dumps(template, ensure_ascii=False),
        json.dumps({"verifiableCredential": document}, ensure_ascii=False),
    )


@dataclass(frozen=True)
class _Run:
    """One benchmark run's figures."""

    database: str
    references: _References
    issued: WrkResult
    verified: WrkResult
    stored: int  #: credentials stored by the issue run
    duplicates: int  #: status indices used more than once


def _measure(wrk: str, workers: int, connections: int, seconds: int) -> _Run:
    from issuer.settings import IssuerSettings

    with (
        tempfile.TemporaryDirectory(prefix="credencial-load-") as temporary,
        _database(Path(temporary)) as (database_url, database_note),
    ):
        directory = Path(temporary)
        settings = IssuerSettings(
            _env_file=None, database_url=database_url, key_dir=directory / "keys",
            key_passphrase=SecretStr(_PASSPHRASE),
        )  # fmt: skip
        references = _references(settings)
        issue_script, verify_script = directory / "issue.lua", directory / "verify.lua"
        issue_script.write_text(
            issue_lua(references.api_key, references.issue_template), encoding="utf-8"
        )
        verify_script.write_text(verify_lua(references.verify_body), encoding="utf-8")
        env = {
            **os.environ,
            "CREDENCIAL_DATABASE_URL": database_url,
            "CREDENCIAL_KEY_DIR": str(directory / "keys"),
            "CREDENCIAL_KEY_PASSPHRASE": _PASSPHRASE,
        }
        with _uvicorn(env, workers, directory / "uvicorn.log") as base:
            _wrk(wrk, issue_script, base, 3, connections)  # warm-up: keys decrypted, pools full
            _wrk(wrk, verify_script, base, 3, connections)
            before, _ = _duplicate_indices(database_url)
            issued = _wrk(wrk, issue_script, base, seconds, connections)
            verified = _wrk(wrk, verify_script, base, seconds, connections)
        after, duplicates = _duplicate_indices(database_url)
    return _Run(database_note, references, issued, verified, after - before, duplicates)


def main() -> int:
    """Run the load benchmark; 1 if any request failed or an index was used twice."""
    wrk = shutil.which("wrk")
    if wrk is None:
        print("\nLoad: wrk is not installed (Debian: apt-get install wrk): skipped")
        return 0
    seconds = int(os.environ.get("CREDENCIAL_LOAD_SECONDS", "60"))
    workers = int(os.environ.get("CREDENCIAL_LOAD_WORKERS", "4"))
    connections = int(os.environ.get("CREDENCIAL_LOAD_CONNECTIONS", "16"))
    print(
        f"\nLoad: uvicorn with {workers} workers on loopback, wrk with {connections} "
        f"connections, {seconds} s per endpoint"
    )
    run = _measure(wrk, workers, connections, seconds)
    issued, verified, references = run.issued, run.verified, run.references
    print(f"database: {run.database}")
    print(
        f"{'endpoint':<26} {'req/s':>9} {'p50':>10} {'p99':>10} {'errors':>7} "
        f"{'in-process/s':>13} {'× ref':>8}"
    )
    print(_row("POST /credentials/issue", issued, references.issue_rate))
    print(_row("POST /credentials/verify", verified, references.verify_rate))
    print(
        "reference: the same operation in this process, one thread, no HTTP "
        "(IssuerService.issue; verifier().check, as the endpoint does)"
    )
    print(
        f"issue run: {issued.requests:,} answered, {run.stored:,} credentials stored (requests "
        f"in flight when wrk stops may add up to {connections}); "
        f"status indices used twice: {run.duplicates}"
    )
    failed = issued.errors + verified.errors
    details = "; ".join(
        f"{name}: {r.socket_errors} socket, {r.status_errors} HTTP >= 400, {r.timeouts} timeouts"
        for name, r in (("issue", issued), ("verify", verified))
    )
    print(f"errors: {failed} ({details})")
    if failed or run.duplicates or run.stored < issued.requests:
        print("load: FAILED: errors, lost credentials or duplicate indices", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
