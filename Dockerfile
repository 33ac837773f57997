# One image for every role: api (gunicorn), worker, beat, migrate, flower.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DRIPPULSE_DATA_DIR=/data

RUN useradd --create-home --uid 10001 drippulse \
    && mkdir -p /data \
    && chown drippulse /data

WORKDIR /app
# the source tree minus what .dockerignore leaves out (tests, venvs, local data)
COPY . .
RUN pip install ".[s3]" "flower>=2.0"

USER drippulse
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)" || exit 1

CMD ["gunicorn", "-c", "python:api.gunicorn_conf", "--workers", "4", "api.wsgi:app"]
