"""The providers' network connections: whether TLS has CA certificates to verify with."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.diagnostics.findings import Findings, error_text, problem


@dataclass(frozen=True)
class TlsResult:
    openssl: str
    cafile: str | None
    capath: str | None
    ssl_cert_file: str | None
    ca_certificates: int
    ok: bool
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "openssl": self.openssl,
            "cafile": self.cafile,
            "capath": self.capath,
            "ssl_cert_file": self.ssl_cert_file,
            "ca_certificates": self.ca_certificates,
        }
        if self.error is not None:
            info["error"] = self.error
        info["ok"] = self.ok
        return info

    def findings(self) -> Findings:
        if self.ok:
            return ()
        return (problem("no CA certificates: secure connections to the providers will fail"),)


def probe_tls() -> TlsResult:
    paths = ssl.get_default_verify_paths()
    error = None
    try:
        context = ssl.create_default_context()
        count = int(context.cert_store_stats()["x509_ca"])
    except (ssl.SSLError, OSError) as exc:
        count = 0
        error = error_text(exc)
    capath = Path(paths.capath) if paths.capath else None
    ok = bool(count) or bool(capath is not None and capath.is_dir() and any(capath.iterdir()))
    return TlsResult(
        openssl=ssl.OPENSSL_VERSION,
        cafile=paths.cafile,
        capath=paths.capath,
        ssl_cert_file=os.environ.get("SSL_CERT_FILE"),
        ca_certificates=count,
        ok=ok,
        error=error,
    )
