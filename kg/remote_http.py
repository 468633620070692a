"""HTTP calls to a SPARQL server, bounded in time from connecting to the last byte read.

http.client's own timeout bounds each socket operation, not the call: a server that sends a byte now
and then could hold a query worker forever. call() sets the socket's timeout to what is left of one
deadline before every read.
"""

import http.client
import time
from urllib.parse import urlsplit

from kg.errors import RemoteTimeout, RemoteUnavailable, UsageError


def check_url(url, what="the SPARQL server's URL"):
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 -- reading it is the check: a port that is no number raises here
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{what} must be an http(s) URL such as http://127.0.0.1:7878/query (got {url!r})")
    return url


def call(method, url, timeout, body=None, headers=None):
    """(status, media type, body) of one HTTP request that takes at most timeout seconds in all."""
    parts = urlsplit(url)
    connection = (http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection)(
        parts.hostname, parts.port, timeout=timeout)
    deadline = time.monotonic() + timeout
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.connect()
        sock = connection.sock  # kept: the response reads from it after the connection lets go of it
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        chunks = []
        while True:
            # A server that sends a byte now and then must not hold a worker past the deadline.
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            chunk = response.read1(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    except TimeoutError:
        raise RemoteTimeout(f"the SPARQL server at {plain(url)} did not answer within {timeout:g} s") \
            from None
    except (OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise RemoteUnavailable(f"the SPARQL server at {plain(url)} is unreachable: {reason}") from None
    finally:
        connection.close()
    media_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
    return response.status, media_type, b"".join(chunks)


def detail(body):
    """The first line of a server's error body, short enough for a message."""
    text = body.decode("utf-8", "replace").strip()
    return (text.splitlines() or ["(no message)"])[0][:300]


def plain(url):
    return urlsplit(url)._replace(query="").geturl()
