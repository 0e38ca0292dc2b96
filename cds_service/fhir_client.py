"""A small, bounded FHIR R4 REST client for the prefetch fallback.

When a CDS Hooks request leaves a prefetch key out, the service fetches that
data from the caller's ``fhirServer``.  That server is outside our control, so
every request here is bounded:

* time: each ``search``/``read`` call has ``total_budget`` seconds (all its
  pages together), further clipped by an optional shared ``deadline`` (a
  ``time.monotonic()`` value shared by all fetches of one hook call).  Connect
  and read timeouts are clipped to what is left, the body is read with at most
  one socket read per step and the socket timeout is re-set to the remaining
  time before every read, so a hanging or slow-drip server cannot hold us past
  the deadline;
* size: at most ``max_bytes`` of (decoded) body per search, counted while the
  bytes arrive; ``Content-Length`` above the limit is refused before reading;
* pages: at most ``max_pages`` pages, ``max_resources`` resources; next links
  must stay on the origin of ``base_url`` and below its path (``urls.is_within``) or
  at the base itself with a query (HAPI FHIR's ``[base]?_getpages=...``), and may not
  loop;
* place: the relative query cannot leave ``base_url`` (absolute URLs, ``//host``,
  ``..`` segments, backslashes and percent-escapes in the path are refused);
  redirects are not followed; the environment (proxies, .netrc) is not used.

No method raises for a remote failure: the result says ``ok=False`` with a
short ``error`` reason fit for logs (never the token, never the query string,
which carries patient identifiers) and the HTTP ``status`` when there was one.

Result semantics for searches:

* ``ok`` -- the first page was a valid searchset Bundle;
* ``incomplete`` -- not every page could be fetched (page/size/resource limit,
  a next link to another origin, a next-link loop, a failing later page, the
  deadline); ``error`` then says why.  Callers must not read absence of a
  resource from an incomplete result (use :attr:`SearchResult.complete`).
"""
from __future__ import annotations

import logging
import re
import socket
import time
import zlib
from collections.abc import Callable, Hashable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from http.cookiejar import DefaultCookiePolicy
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3HTTPError
from urllib3.util.retry import Retry

from . import jsonio
from .urls import is_within, normalise_url
from .urls import origin as url_origin

log = logging.getLogger("spine_cds.fhir")

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")

MAX_WORKERS = 4
_CHUNK = 64 * 1024
# Grace for worker threads to hand in their own (deadline) result in search_many.
_GRACE = 0.25

_TYPE_RE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_SEGMENT_RE = re.compile(r"[A-Za-z0-9\-.$_]{1,64}")
_ID_RE = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_CTRL_RE = re.compile(r"[\x00-\x1f\x7f]")
_TOKEN_RE = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class SearchResult:
    ok: bool
    bundles: list[dict] = field(default_factory=list)
    resources_count: int = 0
    incomplete: bool = False
    error: str | None = None
    status: int | None = None

    @property
    def complete(self) -> bool:
        """True when the search succeeded and every page was fetched."""
        return self.ok and not self.incomplete

    def resources(self) -> Iterator[dict]:
        """Every resource of every page (search.mode 'match' and 'include'; not 'outcome')."""
        for bundle in self.bundles:
            yield from _entry_resources(bundle)


@dataclass(frozen=True)
class ReadResult:
    ok: bool
    resource: dict | None = None
    error: str | None = None
    status: int | None = None


class _Fail(Exception):
    """A bounded, log-safe failure reason (never carries the token or query)."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class _Base:
    url: str  # as given, without trailing slash
    origin: tuple[str, str, int]
    host: str
    norm: str  # urls.normalise_url(url): what next links must stay within


def _parse_base(base_url: str) -> _Base:
    if not isinstance(base_url, str) or _CTRL_RE.search(base_url) or "\\" in base_url:
        raise _Fail("invalid base URL")
    origin = url_origin(base_url)
    parts = urlsplit(base_url)
    if origin is None or parts.query or parts.fragment or "@" in parts.netloc:
        raise _Fail("invalid base URL")
    path = parts.path.rstrip("/")
    if any(seg in (".", "..") for seg in path.split("/")) or "%" in path:
        raise _Fail("invalid base URL")
    url = f"{parts.scheme.lower()}://{parts.netloc}{path}"
    return _Base(url=url, origin=origin, host=parts.netloc, norm=normalise_url(url))


def _split_relative(query: str, *, read: bool) -> tuple[list[str], str]:
    """Validate a relative FHIR request; return its path segments and its query string."""
    if not isinstance(query, str) or not query or _CTRL_RE.search(query) or "#" in query \
            or "\\" in query:
        raise _Fail("invalid query")
    path, _, qs = query.partition("?")
    segs = path.split("/")
    if not _TYPE_RE.fullmatch(segs[0]):
        # covers absolute URLs ("https:"), "//host", "/x", "../x", "%2e%2e" and empty paths
        raise _Fail("invalid query")
    for seg in segs[1:]:
        if seg in (".", "..") or not _SEGMENT_RE.fullmatch(seg):
            raise _Fail("invalid query")
    if read and (len(segs) != 2 or qs or not _ID_RE.fullmatch(segs[1])):
        raise _Fail("invalid resource reference")
    return segs, qs


def _join(base: _Base, segs: list[str], qs: str) -> str:
    url = f"{base.url}/{'/'.join(segs)}" + (f"?{qs}" if qs else "")
    # belt and braces: the joined URL must still be on the base origin and under its path
    if url_origin(url) != base.origin or not is_within(url, base.norm, strictly=True):
        raise _Fail("invalid query")
    return url


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _entry_resources(bundle: dict) -> Iterator[dict]:
    for entry in _list(bundle.get("entry")):
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        search = entry.get("search")
        if not isinstance(search, dict):
            search = {}
        if isinstance(resource, dict) and search.get("mode") != "outcome":
            yield resource


def _next_within(url: str, base: str) -> bool:
    """Whether a next link may be followed: below the base path (``[base]/Observation?...``),
    or at the base itself with a query, the paging form of HAPI FHIR and servers built on it
    (``[base]?_getpages=...&_getpagesoffset=20``). Origin, loops and limits are checked apart."""
    if is_within(url, base, strictly=True):
        return True
    return is_within(url, base) and bool(urlsplit(url).query)


def _next_link(bundle: dict) -> str | None:
    for link in _list(bundle.get("link")):
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"]
    return None


def _outcome_reason(body: dict) -> str:
    """'OperationOutcome (error/not-found)': severity and code only, never diagnostics."""
    issues = body.get("issue")
    first = issues[0] if isinstance(issues, list) and issues and isinstance(issues[0], dict) else {}
    sev, code = first.get("severity"), first.get("code")
    sev = sev if isinstance(sev, str) else "?"
    code = code if isinstance(code, str) else "?"
    return f"OperationOutcome ({sev[:20]}/{code[:30]})"


def _connection_reason(exc: BaseException) -> str:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, socket.gaierror) or type(e).__name__ == "NameResolutionError":
            return "DNS resolution failed"
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        stack.extend([e.__cause__, e.__context__, *[a for a in e.args if isinstance(a, BaseException)]])
        reason = getattr(e, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return "connection failed"


class FhirClient:
    """Bounded FHIR R4 reads and searches over a pooled ``requests.Session``."""

    def __init__(self, *, connect_timeout: float = 1.0, read_timeout: float = 2.0, total_budget: float = 3.0,
                 max_pages: int = 10, max_bytes: int = 10_000_000, max_resources: int = 20_000,
                 session: requests.Session | None = None, user_agent: str = "spine-cds/0.1"):
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.total_budget = total_budget
        self.max_pages = max_pages
        self.max_bytes = max_bytes
        self.max_resources = max_resources
        self.user_agent = user_agent
        self.session = session or self._new_session()

    @staticmethod
    def _new_session() -> requests.Session:
        s = requests.Session()
        s.trust_env = False  # no proxies or .netrc credentials from the environment
        s.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # keep no cookies between calls
        adapter = HTTPAdapter(pool_connections=MAX_WORKERS, pool_maxsize=MAX_WORKERS,
                              max_retries=Retry(total=0, connect=0, read=False, redirect=False, status=0,
                                                raise_on_redirect=False, raise_on_status=False))
        s.mount("http://", adapter)
        s.mount("https://", adapter)
        return s

    def close(self) -> None:
        self.session.close()

    # ---------------------------------------------------------------- public API

    def search(self, base_url: str, query: str, *, token: str | None,
               deadline: float | None = None) -> SearchResult:
        start = time.monotonic()
        until = self._until(start, deadline)
        rtype = "?"
        host = "?"
        bundles: list[dict] = []
        count = 0
        status: int | None = None
        try:
            base = _parse_base(base_url)
            host = base.host
            segs, qs = _split_relative(query, read=False)
            rtype = segs[0]
            headers = self._headers(token)
            url: str | None = _join(base, segs, qs)
            seen: set[str] = set()
            bytes_left = self.max_bytes
            incomplete_reason: str | None = None
            while url is not None:
                seen.add(normalise_url(url))
                try:
                    status, body, used = self._get(url, headers, until, bytes_left)
                except _Fail as f:
                    if not bundles:
                        raise
                    incomplete_reason, status = f"page {len(bundles) + 1}: {f.reason}", f.status or status
                    break
                bytes_left -= used
                if body.get("resourceType") != "Bundle" or body.get("type", "searchset") != "searchset":
                    reason = _outcome_reason(body) if body.get("resourceType") == "OperationOutcome" \
                        else "answer is not a searchset Bundle"
                    if not bundles:
                        raise _Fail(reason, status)
                    incomplete_reason = f"page {len(bundles) + 1}: {reason}"
                    break
                bundles.append(body)
                count += sum(1 for _ in _entry_resources(body))
                nxt = _next_link(body)
                if nxt is None:
                    break
                url = urljoin(url, nxt)
                if url_origin(url) != base.origin:
                    incomplete_reason = "next link leaves the server origin (not followed)"
                elif not _next_within(url, base.norm):
                    incomplete_reason = "next link leaves the server's base path (not followed)"
                elif normalise_url(url) in seen:
                    incomplete_reason = "next link loops (not followed)"
                elif len(bundles) >= self.max_pages:
                    incomplete_reason = f"page limit ({self.max_pages}) reached"
                elif count >= self.max_resources:
                    incomplete_reason = f"resource limit ({self.max_resources}) reached"
                if incomplete_reason:
                    break
            result = SearchResult(ok=True, bundles=bundles, resources_count=count,
                                  incomplete=incomplete_reason is not None, error=incomplete_reason,
                                  status=status)
        except _Fail as f:
            result = SearchResult(ok=False, bundles=[], resources_count=0, incomplete=True, error=f.reason,
                                  status=f.status if f.status is not None else status)
        except Exception as e:  # defensive: a remote answer must never crash a hook call
            # no traceback: exception texts may carry the URL (patient identifiers)
            log.error("FHIR search failed unexpectedly (%s)", type(e).__name__)
            result = SearchResult(ok=False, incomplete=True, error=f"internal error ({type(e).__name__})")
        self._log("search", host, rtype, result.status, start, result.ok, result.error,
                  pages=len(result.bundles), count=result.resources_count)
        return result

    def read(self, base_url: str, reference: str, *, token: str | None,
             deadline: float | None = None) -> ReadResult:
        start = time.monotonic()
        until = self._until(start, deadline)
        rtype = "?"
        host = "?"
        try:
            base = _parse_base(base_url)
            host = base.host
            segs, _ = _split_relative(reference, read=True)
            rtype = segs[0]
            status, body, _used = self._get(_join(base, segs, ""), self._headers(token), until, self.max_bytes)
            if body.get("resourceType") == "OperationOutcome" and rtype != "OperationOutcome":
                raise _Fail(_outcome_reason(body), status)
            if body.get("resourceType") != rtype or body.get("id") != segs[1]:
                raise _Fail("answer is not the requested resource", status)
            result = ReadResult(ok=True, resource=body, status=status)
        except _Fail as f:
            result = ReadResult(ok=False, error=f.reason, status=f.status)
        except Exception as e:  # defensive
            log.error("FHIR read failed unexpectedly (%s)", type(e).__name__)
            result = ReadResult(ok=False, error=f"internal error ({type(e).__name__})")
        self._log("read", host, rtype, result.status, start, result.ok, result.error)
        return result

    def search_many(self, base_url: str, queries: Mapping[K, str], token: str | None,
                    deadline: float | None = None) -> dict[K, SearchResult]:
        """Run several searches concurrently (at most 4 at once) within one shared deadline;
        a search the deadline cuts off is incomplete. Without ``deadline`` the whole batch gets
        ``total_budget`` seconds."""
        jobs = {key: partial(self.search, base_url, q, token=token) for key, q in queries.items()}
        return self._all_by(jobs, deadline, lambda: SearchResult(ok=False, incomplete=True, error="deadline exceeded"),
                            "fhir-fetch")

    def read_many(self, base_url: str, references: Mapping[K, str], token: str | None,
                  deadline: float | None = None) -> dict[K, ReadResult]:
        """Several reads (``Type/id``) concurrently (at most 4 at once) within one shared deadline;
        a read the deadline cuts off is a failure (``deadline exceeded``)."""
        jobs = {key: partial(self.read, base_url, ref, token=token) for key, ref in references.items()}
        return self._all_by(jobs, deadline, lambda: ReadResult(ok=False, error="deadline exceeded"), "fhir-read")

    def _all_by(self, jobs: Mapping[K, Callable[..., R]], deadline: float | None, cut_off: Callable[[], R],
                name: str) -> dict[K, R]:
        """Run ``jobs`` on at most ``MAX_WORKERS`` threads until ``deadline``; a job not done by
        then gets ``cut_off()``. Each job is called with ``deadline=``. A job that raised is a bug
        and raises here (never a failed read)."""
        if not jobs:
            return {}
        if deadline is None:
            deadline = time.monotonic() + self.total_budget
        results: dict[K, R] = {}
        pool = ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(jobs)), thread_name_prefix=name)
        try:
            futures = {key: pool.submit(job, deadline=deadline) for key, job in jobs.items()}
            wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()) + _GRACE)
            for key, fut in futures.items():
                if fut.done() and not fut.cancelled():
                    results[key] = fut.result()  # re-raises what the job raised
                else:
                    fut.cancel()
                    results[key] = cut_off()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return results

    # ---------------------------------------------------------------- internals

    def _until(self, start: float, deadline: float | None) -> float:
        own = start + self.total_budget
        return own if deadline is None else min(own, deadline)

    def _headers(self, token: str | None) -> dict[str, str]:
        headers = {"Accept": "application/fhir+json", "Accept-Encoding": "gzip",
                   "User-Agent": self.user_agent}
        if token:
            if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
                raise _Fail("invalid token format")
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _get(self, url: str, headers: dict[str, str], until: float, byte_limit: int) -> tuple[int, dict, int]:
        """GET one JSON resource; return (status, body, decoded bytes read). Raises _Fail."""
        remaining = until - time.monotonic()
        if remaining <= 0:
            raise _Fail("deadline exceeded")
        try:
            resp = self.session.get(url, headers=headers, stream=True, allow_redirects=False,
                                    timeout=(min(self.connect_timeout, remaining),
                                             min(self.read_timeout, remaining)))
        except requests.exceptions.ConnectTimeout:
            raise _Fail("connect timeout") from None
        except requests.exceptions.ReadTimeout:
            raise _Fail("read timeout") from None
        except requests.exceptions.SSLError:
            raise _Fail("TLS error") from None
        except requests.exceptions.ConnectionError as e:
            raise _Fail(_connection_reason(e)) from None
        except (requests.exceptions.RequestException, Urllib3HTTPError, OSError, ValueError) as e:
            raise _Fail(f"request failed ({type(e).__name__})") from None
        try:
            status = resp.status_code
            if 300 <= status < 400:
                raise _Fail(f"redirect not followed (HTTP {status})", status)
            if not 200 <= status < 300:
                raise _Fail(f"HTTP {status}", status)
            ctype = resp.headers.get("Content-Type", "").lower()
            if ctype and "json" not in ctype:
                raise _Fail("answer is not JSON (content type)", status)
            raw = self._read_body(resp, until, byte_limit, status)
            try:
                body = jsonio.loads(raw)
            except (ValueError, RecursionError):
                raise _Fail("answer is not valid JSON", status) from None
            if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
                raise _Fail("answer is not a FHIR resource", status)
            resp.raw.release_conn()
            return status, body, len(raw)
        finally:
            resp.close()

    def _read_body(self, resp: requests.Response, until: float, limit: int, status: int) -> bytes:
        length = resp.headers.get("Content-Length", "").strip()
        if length.isdigit() and int(length) > limit:
            raise _Fail("answer too large", status)
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding in ("identity", ""):
            decoder = None
        else:
            raise _Fail("unsupported content encoding", status)
        raw = resp.raw
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        buf = bytearray()
        while True:
            remaining = until - time.monotonic()
            if remaining <= 0:
                raise _Fail("deadline exceeded while reading", status)
            if sock is not None:
                sock.settimeout(min(self.read_timeout, remaining))
            try:
                data = raw.read1(_CHUNK, decode_content=False)
            except (Urllib3HTTPError, OSError, ValueError) as e:
                reason = "read timeout" if isinstance(e, TimeoutError) or "timed out" in str(e).lower() \
                    else "connection broken while reading"
                raise _Fail(reason, status) from None
            chunk = data
            if decoder is not None:
                try:
                    # at most one byte past the limit: enough to know it is too large
                    chunk = decoder.decompress(data, limit - len(buf) + 1) if data else decoder.flush()
                except zlib.error:
                    raise _Fail("invalid compressed answer", status) from None
                if decoder.unconsumed_tail:
                    raise _Fail("answer too large", status)
            buf += chunk
            if len(buf) > limit:
                raise _Fail("answer too large", status)
            if not data:
                if decoder is not None and not decoder.eof:
                    raise _Fail("truncated compressed answer", status)
                break
        return bytes(buf)

    def _log(self, op: str, host: str, rtype: str, status: int | None, start: float, ok: bool,
             error: str | None, **extra: Any) -> None:
        ms = (time.monotonic() - start) * 1000
        more = "".join(f" {k}={v}" for k, v in extra.items())
        if ok and not error:
            log.info("FHIR %s host=%s type=%s status=%s duration_ms=%.0f%s", op, host, rtype, status, ms, more)
        else:
            log.warning("FHIR %s host=%s type=%s status=%s duration_ms=%.0f%s ok=%s reason=%s",
                        op, host, rtype, status, ms, more, ok, error)

