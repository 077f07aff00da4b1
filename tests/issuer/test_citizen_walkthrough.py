"""The citizen's walk-through ``make run`` prints, run exactly as printed against a served issuer.

``credencial-issuer serve --demo`` runs under uvicorn on a free port (SQLite, then PostgreSQL
through ``CREDENCIAL_DATABASE_URL``); the lines between the walk-through's markers go to ``bash``
unchanged, in a folder where ``.venv`` is this environment. Each step's output is checked: the
wallet receives the credential through the issuer-URL mapping, ISSSTE's request reaches the
person, the narrowed approval gives ISSSTE the summary only, the access log shows it, and after the
withdrawal ISSSTE is refused.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from issuer.cli.walkthrough import WALKTHROUGH_END, WALKTHROUGH_START
from tests.postgres import PostgresServer

_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    ]
)
def demo_database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (the demo's own SQLite file) or the URL of a new PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create_database()
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


class _Served:
    """``credencial-issuer serve --demo`` in ``folder``; its output in ``folder/serve.log``."""

    def __init__(self, folder: Path, database_url: str | None) -> None:
        self.folder, self.port = folder, _free_port()
        self.log = folder / "serve.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CREDENCIAL_")}
        if database_url is not None:
            env["CREDENCIAL_DATABASE_URL"] = database_url
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [str(Path(sys.prefix) / "bin" / "credencial-issuer"), "serve", "--demo",
                 "--port", str(self.port)],
                cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + _TIMEOUT
        while not self._ready():
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, f"the server did not start\n{self.output()}"
            time.sleep(0.1)

    def _ready(self) -> bool:
        try:
            response = httpx.get(
                f"http://127.0.0.1:{self.port}/.well-known/did.json",
                headers={"Host": "imss.gob.mx"},
                timeout=2,
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=_TIMEOUT)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
            self.process.kill()
            self.process.wait()


def _walkthrough(output: str) -> str:
    start = output.index(WALKTHROUGH_START)
    end = output.index(WALKTHROUGH_END, start) + len(WALKTHROUGH_END)
    return output[start:end].split("\n", 1)[1]


def _run(script: str, folder: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDENCIAL_")}
    env["HOME"] = str(folder)
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _json_lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_the_printed_walkthrough_works_as_printed(
    tmp_path: Path, demo_database: str | None
) -> None:
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    served = _Served(tmp_path, demo_database)
    try:
        script = _walkthrough(served.output())
        assert "127.0.0.1:" + str(served.port) in script
        done = _run(script, tmp_path)
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{served.output()}"
        out = done.stdout
        print(out)  # the walk-through's output, for the closing note (pytest -s)

        # 2. the wallet received the credential (its key, then the credential's summary)
        assert "did:key:z6Mk" in out
        assert "IMSS  MARÍA GUADALUPE DEL SOCORRO HERNÁNDEZ DE LA O" in out
        # 4. the request reached the person; the approval gave less than asked
        request_id = json.loads((tmp_path / "var/demo/consent-request.json").read_text())["id"]
        assert "Solicitudes de consentimiento sobre sus datos en IMSS:" in out
        assert f"{request_id}  [pendiente]" in out
        assert (
            "pide: ISSSTE (Instituto de Seguridad y Servicios Sociales de los Trabajadores" in out
        )
        assert "unidad DFSSA003961" in out
        assert f"Aprobó la solicitud {request_id}: ISSSTE (unidad DFSSA003961) podrá " in out
        assert "consultar resumen del expediente clínico hasta" in out
        assert "Dio menos de lo que se pidió." in out
        # 5. ISSSTE reads approved + the scope, and receives the summary only
        state, answer, refused = _json_lines(out)
        assert state["state"] == "approved"
        assert state["approved"]["dataClasses"] == ["ece.summary"]
        assert sorted(e["resource"]["id"] for e in answer["bundle"]["entry"]) == [
            "dm2", "metformina",
        ]  # fmt: skip
        assert [(d["dataClass"], d["outcome"]) for d in answer["decisions"]] == [
            ("ece.summary", "permit"),
            ("ece.full", "deny"),
        ]
        # 6. the access log shows ISSSTE's read under the grant, and the refused class
        assert "Quién consultó sus datos en IMSS:" in out
        assert "ISSSTE (DFSSA003961): resumen del expediente clínico, atención médica; " in out
        log = out.split("Quién consultó")[1]
        assert "expediente clínico completo" not in log.split("Solicitudes rechazadas")[0]
        assert "ISSSTE: expediente clínico completo (usted no lo autorizó)" in log
        assert "Condition dm2: Diabetes mellitus tipo 2" in out
        assert "DFIMS000014  UMF 14 Ciudad de México (IMSS): 12 lugares" in out
        # 7. withdrawn, then refused
        assert "[vigente]" in out
        assert "Retiró el consentimiento urn:uuid:" in out
        assert (refused["status"], refused["code"]) == (403, "ACCESS_DENIED")
        assert [r["code"] for d in refused["decisions"] for r in d["reasons"]] == [
            "GRANT_WITHDRAWN", "GRANT_WITHDRAWN",
        ]  # fmt: skip

        # Afterwards, in English: the person's own read is in the log as theirs, the request
        # shows as withdrawn, and another approval of it is refused with a clear reason.
        after = _run(
            script.split("# 1.")[0]
            + f"export CREDENCIAL_WALLET=var/demo/wallet CREDENCIAL_WALLET_ISSUER_URLS="
            f"https://imss.gob.mx=http://127.0.0.1:{served.port}\n"
            ".venv/bin/credencial-wallet access-log --lang en\n"
            ".venv/bin/credencial-wallet requests --all --lang en\n"
            f".venv/bin/credencial-wallet approve {request_id} --lang en || echo refused=$?\n",
            tmp_path,
        )
        assert after.returncode == 0, after.stderr
        assert "you: clinical record summary, at your request; your own read" in after.stdout
        assert f"{request_id}  [approved, then withdrawn]" in after.stdout
        assert "refused=1" in after.stdout
        assert (
            "the request was already answered (ISSUER_REFUSED: REQUEST_ALREADY_ANSWERED)"
            in after.stderr
        )
    finally:
        served.stop()
