# The image the team server runs (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHON=/opt/venv/bin/python \
    STATIC_ROOT=/opt/static

RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
# /app/data: bin/serve's shared cache for the workers (CACHE_DIR), writable by the app only.
RUN useradd --system --home /app sco && mkdir -p /opt/static /app/data && chown sco /opt/static /app/data
USER sco
EXPOSE 8000
CMD ["bin/serve"]
