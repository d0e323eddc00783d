# asbru in a container: `docker build -t asbru .` then
#   docker run -p 8080:8080 -v "$PWD/data:/app/data" -e OPENAI_API_KEY asbru
# The app dir /app/data holds config.json (Bifrost's format) when there is one; without it asbru
# takes providers from the environment. See docs/deploying.md.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p asbru

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /app/data && chown 65532:65532 /app/data
COPY --from=build /src/target/release/asbru /usr/local/bin/asbru
ENV ASBRU_HOST=0.0.0.0 ASBRU_PORT=8080 ASBRU_APP_DIR=/app/data LOG_STYLE=json
VOLUME /app/data
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["asbru", "serve"]
