# One image for every DocFlow process; compose picks the service with the command
# (`migrate`, `gateway`, `executor`, `notifier`, `scheduler`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
RUN pip install . \
    && useradd --system --no-create-home --uid 10001 docflow

USER docflow
EXPOSE 8080 9100
ENTRYPOINT ["docflow"]
CMD ["--help"]
