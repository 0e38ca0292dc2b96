"""The ``spine-cds`` command: serve (gunicorn), demo, evaluate (offline, on FHIR files)."""
from __future__ import annotations

import argparse
import os
import sys


def _gunicorn(host: str, port: int, workers: int | None) -> int:
    from gunicorn.app.wsgiapp import run
    conf = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gunicorn_conf.py")
    argv = ["gunicorn", "--config", conf, "--bind", f"{host}:{port}"]
    if workers:
        argv += ["--workers", str(workers)]
    argv.append("cds_service.wsgi:app")
    sys.argv = argv
    return run() or 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spine-cds", description="CDS Hooks service: spinal metastases, VP/BK")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("serve", "run the production server (gunicorn) in the foreground"),
                           ("demo", "run with demo settings: authentication off, CORS *, the demo page")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--host", default=os.environ.get("SPINE_CDS_HOST", "127.0.0.1" if name == "demo"
                                                         else "0.0.0.0"))
        p.add_argument("--port", type=int, default=int(os.environ.get("SPINE_CDS_PORT", "8080")))
        p.add_argument("--workers", type=int, default=None)
    from . import evaluate
    p = sub.add_parser("evaluate", help="run the guideline offline on FHIR Bundle/NDJSON files, no server",
                       description=evaluate.HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_arguments(p)
    args = parser.parse_args(argv)
    if args.command == "evaluate":
        return evaluate.run(args)
    if args.command == "demo":
        os.environ["SPINE_CDS_DEMO"] = "true"
        os.environ.setdefault("SPINE_CDS_AUTH", "off")
        os.environ.setdefault("SPINE_CDS_CORS_ORIGINS", "*")
    # Fail fast, before forking workers, on a bad configuration.
    from .config import ConfigError
    try:
        from . import create_app
        create_app()
    except ConfigError as exc:
        print(f"spine-cds: configuration error: {exc}", file=sys.stderr)
        return 2
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    where = f"http://{shown}:{args.port}"
    if args.command == "demo":
        print(f"spine-cds: demo at {where}/demo/ (services at {where}/cds-services, rules at {where}/guideline)",
              file=sys.stderr, flush=True)
    else:
        print(f"spine-cds: serving on {where} (discovery at {where}/cds-services)", file=sys.stderr, flush=True)
    return _gunicorn(args.host, args.port, args.workers)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
