# spine-cds: CDS Hooks service (gunicorn), multi-stage, runs as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY cds_service ./cds_service
COPY fhir_mappings ./fhir_mappings
COPY spine_guideline ./spine_guideline
RUN python -m pip install --no-cache-dir --upgrade pip \
 && python -m pip wheel --no-cache-dir --wheel-dir /wheels '.[postgres]'

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    SPINE_CDS_DATA_DIR=/var/lib/spine-cds
RUN useradd --system --uid 10001 --home-dir /var/lib/spine-cds --create-home spine \
 && mkdir -p /etc/spine-cds && chown spine /var/lib/spine-cds
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER spine
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"
# Configure with SPINE_CDS_* variables (README); mount the trust file at /etc/spine-cds/trust.json.
CMD ["spine-cds", "serve", "--host", "0.0.0.0", "--port", "8080"]
