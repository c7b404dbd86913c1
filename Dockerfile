# syntax=docker/dockerfile:1.7
# Multi-stage build of every Octo binary; one small, non-root image per component:
#   docker build --target node-exporter -t octo/node-exporter .
# (compose.yml builds them all). Binaries are statically linked, so the runtime images are
# distroless "static" (no shell, no package manager; CA certificates and tzdata only).

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
ENV CARGO_TERM_COLOR=never
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    set -eux; \
    triple="$(uname -m)-unknown-linux-gnu"; \
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked --profile small --target "$triple" \
      -p octo-app -p octo-node-exporter -p octo-mysqld-exporter -p octo-nginx-exporter \
      -p octo-container-exporter -p octo-exporter-kit --bins; \
    mkdir -p /out; \
    for bin in octo-app octo-alert-log octo-node-exporter octo-mysqld-exporter octo-nginx-exporter \
               octo-container-exporter octo-healthcheck; do \
      cp "target/$triple/small/$bin" /out/; \
    done

FROM gcr.io/distroless/static-debian12:nonroot AS runtime
COPY --from=build /out/octo-healthcheck /usr/local/bin/octo-healthcheck
USER nonroot:nonroot

FROM runtime AS app
COPY --from=build /out/octo-app /usr/local/bin/octo-app
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=5s CMD ["/usr/local/bin/octo-healthcheck", "http://127.0.0.1:5000/healthz"]
ENTRYPOINT ["/usr/local/bin/octo-app"]

FROM runtime AS alert-log
COPY --from=build /out/octo-alert-log /usr/local/bin/octo-alert-log
EXPOSE 9095
ENTRYPOINT ["/usr/local/bin/octo-alert-log"]

FROM runtime AS node-exporter
COPY --from=build /out/octo-node-exporter /usr/local/bin/octo-node-exporter
EXPOSE 9100
ENTRYPOINT ["/usr/local/bin/octo-node-exporter"]

FROM runtime AS mysqld-exporter
COPY --from=build /out/octo-mysqld-exporter /usr/local/bin/octo-mysqld-exporter
EXPOSE 9104
ENTRYPOINT ["/usr/local/bin/octo-mysqld-exporter"]

FROM runtime AS nginx-exporter
COPY --from=build /out/octo-nginx-exporter /usr/local/bin/octo-nginx-exporter
EXPOSE 9113
ENTRYPOINT ["/usr/local/bin/octo-nginx-exporter"]

FROM runtime AS container-exporter
COPY --from=build /out/octo-container-exporter /usr/local/bin/octo-container-exporter
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/octo-container-exporter"]
