"""Fetch a file over HTTP(S) safely: timeouts, retries, a temporary file, a sha256 check, a rename.

A half-downloaded or tampered file never appears under the final name: bytes stream into a
temporary file in the destination folder (`atomic_write`), are hashed on the way, and the file
takes its name only when the hash matches. Failed connections, timeouts and the usual transient
HTTP statuses (429, 5xx) are retried with exponential backoff (0, 1, 2 s, ...).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from charnn.errors import DataError
from charnn.platform.atomic import atomic_write

CONNECT_TIMEOUT_S = 6.05  # just over a multiple of 3 s, the TCP retransmission window
READ_TIMEOUT_S = 30.0
RETRIES = 3
BACKOFF_S = 0.5
"""urllib3 waits BACKOFF_S * 2**(n - 1) before retry n > 1 (the first retry is immediate)."""
CHUNK_BYTES = 1 << 16


def _session(retries: int, backoff_s: float) -> requests.Session:
    session = requests.Session()
    retry = Retry(
        total=retries,
        backoff_factor=backoff_s,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
    )
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def download(
    url: str,
    destination: Path,
    *,
    sha256: str,
    what: str,
    fix: str,
    retries: int = RETRIES,
    backoff_s: float = BACKOFF_S,
    timeouts_s: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
) -> Path:
    """Download `url` to `destination` and verify its sha256; `fix` tells the user the way out.

    `timeouts_s` is (connect, read): the longest wait for a connection, and for each chunk.
    """
    digest = hashlib.sha256()
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(destination) as file, _session(retries, backoff_s) as session:
            try:
                with session.get(url, stream=True, timeout=timeouts_s) as reply:
                    reply.raise_for_status()
                    for chunk in reply.iter_content(CHUNK_BYTES):
                        digest.update(chunk)
                        file.write(chunk)
            except requests.RequestException as error:
                reason = _reason(error, timeouts_s)
                attempts = f" after {retries + 1} attempts" if retries else ""
                raise DataError(
                    f"could not download {what} from {url}{attempts} ({reason}); {fix}"
                ) from None
            if digest.hexdigest() != sha256:  # raising here keeps the bytes from `destination`
                raise DataError(
                    f"the download of {what} from {url} has sha256 {digest.hexdigest()[:12]}..., "
                    f"expected {sha256[:12]}...; the file was deleted; {fix}"
                )
    except OSError as error:
        raise DataError(
            f"could not save {what} to {destination}: {error.strerror or error}; {fix}"
        ) from None
    return destination


def _reason(error: requests.RequestException, timeouts_s: tuple[float, float]) -> str:
    """What went wrong, in words; requests nests urllib3's errors, so look at the text too."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code} {error.response.reason}"
    if isinstance(error, requests.exceptions.RetryError):
        return "the server kept answering with an error status"
    if isinstance(error, requests.Timeout) or "timed out" in str(error).lower():
        connect, read = timeouts_s
        return f"timed out: no connection within {connect:g}s or no data for {read:g}s"
    if isinstance(error, requests.ConnectionError):
        return "cannot connect: no network, or the server is unreachable"
    return type(error).__name__
