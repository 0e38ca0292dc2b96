"""Benchmark spine-cds under its production server, against the floor.

    python -m bench.run                 # latency per service + floor, scaling, throughput, memory
    python -m bench.run --load 60       # also a sustained load run (issue 7), 60 s

Starts ``spine-cds serve`` (gunicorn, the shipped settings) and the floor (a
bare Flask app that parses the same JSON and returns no cards) under the same
gunicorn settings, on loopback. Reports p50/p95/p99 end-to-end latency per
service and as a ratio to the floor, the service-side time split (from the
service's own request logs), throughput, peak RSS per worker, and how latency
grows with the number of resources in prefetch. Absolute times vary between
machines; the ratios are what the targets are about.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
LOCAL = "https://spine-cds.org/fhir/CodeSystem/spine-cds"


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv: list[str], env: dict[str, str], log_path: Path, health: str) -> subprocess.Popen:
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {log_path.read_text()[-2000:]}")
        try:
            if requests.get(health, timeout=1).status_code == 200:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"server did not start: {log_path.read_text()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


def worker_pids(master: int) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == master:
                        out.append(int(pid))
            except (OSError, ValueError, IndexError):
                pass
    return out


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class MemorySampler(threading.Thread):
    def __init__(self, master: int):
        super().__init__(daemon=True)
        self.master, self.peak, self.first, self.last = master, {}, {}, {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.2):
            for pid in worker_pids(self.master):
                v = rss_mb(pid)
                self.first.setdefault(pid, v)
                self.last[pid] = v
                self.peak[pid] = max(self.peak.get(pid, 0.0), v)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * (len(s) - 1)))))
    return s[k]


def sample_requests() -> dict[str, list[tuple[dict[str, Any], str]]]:
    """{service id: [(body, label)]} from the shipped sample patients."""
    from cds_service.services import SERVICES
    try:
        from cds_service import samples
        items = samples.list_samples()
    except Exception:  # noqa: BLE001 - samples not installed: synthetic only
        items = []
    out: dict[str, list] = {s.id: [] for s in SERVICES}
    for sample in items:
        for service in SERVICES:
            if service.hook not in sample.hooks:
                continue
            context: dict[str, Any] = {"userId": "Practitioner/bench", "patientId": sample.patient_id}
            if service.hook in ("order-select", "order-sign"):
                if not sample.draft_orders:
                    continue
                context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                          "entry": [{"resource": r} for r in sample.draft_orders]}
                if service.hook == "order-select":
                    context["selections"] = [f"{r['resourceType']}/{r['id']}" for r in sample.draft_orders]
            body = {"hook": service.hook, "hookInstance": str(uuid.uuid4()), "context": context,
                    "prefetch": samples.prefetch(sample.id, list(service.prefetch_keys))}
            out[service.id].append((body, sample.id))
    return out


def scaled_request(n: int) -> dict[str, Any]:
    """A vertebral-augmentation request whose prefetch holds n resources (a realistic mix)."""
    from cds_service.services import BY_ID
    service = BY_ID["vertebral-augmentation"]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86400))
    codes = ["back-pain", "night-pain", "pain-score", "radicular-pain", "ambulatory", "can-lie-prone"]
    obs, conds = [], []
    for i in range(n):
        if i % 10 == 0:
            level = ["T4", "T8", "T12", "L1", "L2", "L3"][i // 10 % 6]
            conds.append({"resourceType": "Condition", "id": f"c{i}", "subject": {"reference": "Patient/s"},
                          "code": {"coding": [{"system": "http://snomed.info/sct", "code": "94602001"}]},
                          "bodySite": [{"text": level}], "recordedDate": now})
        else:
            code = codes[i % len(codes)]
            o = {"resourceType": "Observation", "id": f"o{i}", "status": "final",
                 "subject": {"reference": "Patient/s"}, "effectiveDateTime": now,
                 "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}] if code == "pain-score"
                          else [{"system": LOCAL, "code": code}]}}
            if code == "pain-score":
                o["valueInteger"] = i % 11
            else:
                o["valueBoolean"] = i % 3 != 0
            obs.append(o)
    prefetch: dict[str, Any] = {k: None for k in service.prefetch_keys}
    prefetch["patient"] = {"resourceType": "Patient", "id": "s", "gender": "male", "birthDate": "1950-01-01"}
    prefetch["observations"] = {"resourceType": "Bundle", "type": "searchset",
                                "entry": [{"resource": o} for o in obs]}
    prefetch["conditions"] = {"resourceType": "Bundle", "type": "searchset",
                              "entry": [{"resource": c} for c in conds]}
    return {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/bench", "patientId": "s"}, "prefetch": prefetch}


def timed_posts(session: requests.Session, url: str, payloads: list[bytes], n: int) -> tuple[list[float], int]:
    times, errors = [], 0
    headers = {"Content-Type": "application/json", "Accept-Language": "en"}
    for i in range(n):
        t0 = time.perf_counter()
        r = session.post(url, data=payloads[i % len(payloads)], headers=headers, timeout=30)
        times.append(time.perf_counter() - t0)
        if r.status_code != 200:
            errors += 1
    return times, errors


def rounds_posts(s_session: requests.Session, s_url: str, f_session: requests.Session, f_url: str,
                 payloads: list[bytes], n: int, size: int) -> tuple[list[float], int, list[float]]:
    """Service and floor latencies in turns of ``size`` requests each, the same payloads in
    each turn: both are timed warm (back to back) and see the same machine state (this
    machine's speed drifts by 10-20% within a minute; with the floor timed in one block
    after the service, the ratio drifted with it)."""
    size = max(1, size)
    s_times, f_times, errors = [], [], 0
    for start in range(0, n, size):
        bodies = [payloads[i % len(payloads)] for i in range(start, min(n, start + size))]
        t, e = timed_posts(s_session, s_url, bodies, len(bodies))
        s_times += t
        errors += e
        f_times += timed_posts(f_session, f_url, bodies, len(bodies))[0]
    return s_times, errors, f_times


def time_split(log_path: Path) -> dict[str, dict[str, float]]:
    acc: dict[str, dict[str, list[float]]] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        if not line.startswith("{") or '"spine_cds.request"' not in line:
            continue
        rec = json.loads(line)
        if rec.get("status") != 200 or "service" not in rec:
            continue
        for k, v in rec.get("timingMs", {}).items():
            acc.setdefault(rec["service"], {}).setdefault(k, []).append(v)
    return {svc: {k: round(statistics.median(v), 2) for k, v in parts.items()} for svc, parts in acc.items()}


def load_run(base: str, payloads: dict[str, list[bytes]], seconds: float, concurrency: int):
    stop_at = time.monotonic() + seconds
    urls = [(f"{base}/cds-services/{sid}", p) for sid, ps in payloads.items() for p in ps]
    lock = threading.Lock()
    lat: list[float] = []
    errors = [0]

    def worker(k: int) -> None:
        s = requests.Session()
        i = k
        while time.monotonic() < stop_at:
            url, body = urls[i % len(urls)]
            i += concurrency
            t0 = time.perf_counter()
            try:
                ok = s.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
            dt = time.perf_counter() - t0
            with lock:
                lat.append(dt)
                if not ok:
                    errors[0] += 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    elapsed = time.perf_counter() - t0
    return {"requests": len(lat), "errors": errors[0], "seconds": round(elapsed, 1),
            "throughput_rps": round(len(lat) / elapsed, 1), "p50_ms": round(pct(lat, 50) * 1000, 1),
            "p99_ms": round(pct(lat, 99) * 1000, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=200, help="sequential requests per service (latency)")
    ap.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: shipped config)")
    ap.add_argument("--concurrency", type=int, default=4, help="client threads for throughput/load")
    ap.add_argument("--throughput-seconds", type=float, default=10)
    ap.add_argument("--load", type=float, default=0, help="seconds of sustained load (0: skip)")
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--rounds", type=int, default=20, metavar="N",
                    help="latency: service and floor in turns of N requests each (default 20): each is "
                         "timed warm, back to back, and both see the same machine state; 1 alternates "
                         "single requests")
    ap.add_argument("--blocks", action="store_true",
                    help="latency: all of a service's requests in one block, then all of the floor's "
                         "(this machine's speed drifts by 10-20%% within a minute: the ratio drifts too)")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="spine-cds-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_CDS_")}
    env.update({"SPINE_CDS_AUTH": "off", "SPINE_CDS_DATA_DIR": str(work), "SPINE_CDS_LOG_LEVEL": "INFO",
                "SPINE_CDS_MAX_BODY_BYTES": "100000000"})
    if args.workers:
        env["SPINE_CDS_WORKERS"] = str(args.workers)
    conf = str(ROOT / "cds_service" / "gunicorn_conf.py")
    sport, fport = free_port(), free_port()
    svc_log, floor_log = work / "service.log", work / "floor.log"
    svc = start([sys.executable, "-m", "gunicorn", "--config", conf, "--bind", f"127.0.0.1:{sport}",
                 "cds_service.wsgi:app"], env, svc_log, f"http://127.0.0.1:{sport}/healthz")
    floor = start([sys.executable, "-m", "gunicorn", "--config", conf, "--bind", f"127.0.0.1:{fport}",
                   "bench.floor_app:app"], env, floor_log, f"http://127.0.0.1:{fport}/healthz")
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                               "workers": len(worker_pids(svc.pid)),
                               "latency_method": "blocks" if args.blocks else f"rounds of {args.rounds}"}
    sampler = MemorySampler(svc.pid)
    sampler.start()
    try:
        reqs = sample_requests()
        if not any(reqs.values()):
            reqs = {"vertebral-augmentation": [(scaled_request(50), "synthetic-50")]}
        payloads = {sid: [json.dumps(b).encode() for b, _ in items] for sid, items in reqs.items() if items}
        s_sess, f_sess = requests.Session(), requests.Session()
        lat: dict[str, Any] = {}
        for sid, bodies in payloads.items():
            timed_posts(s_sess, f"http://127.0.0.1:{sport}/cds-services/{sid}", bodies, 20)  # warm-up
            timed_posts(f_sess, f"http://127.0.0.1:{fport}/cds-services/{sid}", bodies, 20)
            s_url, f_url = f"http://127.0.0.1:{sport}/cds-services/{sid}", f"http://127.0.0.1:{fport}/cds-services/{sid}"
            if args.blocks:  # all service requests, then all floor requests
                st, se = timed_posts(s_sess, s_url, bodies, args.requests)
                ft, _ = timed_posts(f_sess, f_url, bodies, args.requests)
            else:
                st, se, ft = rounds_posts(s_sess, s_url, f_sess, f_url, bodies, args.requests, args.rounds)
            row = {"patients": len(bodies), "errors": se}
            for p in (50, 95, 99):
                row[f"p{p}_ms"] = round(pct(st, p) * 1000, 2)
                row[f"floor_p{p}_ms"] = round(pct(ft, p) * 1000, 2)
                row[f"p{p}_ratio"] = round(pct(st, p) / pct(ft, p), 2)
            lat[sid] = row
        results["latency"] = lat
        if not args.no_scaling:
            scaling = {}
            for n in (10, 100, 1000, 10000):
                body = json.dumps(scaled_request(n)).encode()
                reps = 30 if n <= 1000 else 8
                st, se, ft = rounds_posts(
                    s_sess, f"http://127.0.0.1:{sport}/cds-services/vertebral-augmentation",
                    f_sess, f"http://127.0.0.1:{fport}/cds-services/vertebral-augmentation", [body], reps,
                    min(args.rounds, reps))
                scaling[n] = {"p50_ms": round(pct(st, 50) * 1000, 1), "floor_p50_ms": round(pct(ft, 50) * 1000, 1),
                              "errors": se, "bytes": len(body)}
            results["scaling"] = scaling
        results["time_split_median_ms"] = time_split(svc_log)
        results["throughput"] = load_run(f"http://127.0.0.1:{sport}", payloads, args.throughput_seconds,
                                         args.concurrency)
        if args.load:
            mem_before = dict(sampler.last)
            results["load"] = load_run(f"http://127.0.0.1:{sport}", payloads, args.load, args.concurrency)
            results["load"]["rss_mb_start"] = {str(k): round(v, 1) for k, v in mem_before.items()}
            results["load"]["rss_mb_end"] = {str(k): round(v, 1) for k, v in sampler.last.items()}
    finally:
        sampler.stop()
        stop(svc)
        stop(floor)
    results["peak_rss_mb_per_worker"] = {str(k): round(v, 1) for k, v in sampler.peak.items()}
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
