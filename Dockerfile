# syntax=docker/dockerfile:1
#
# keyage's container image: a static binary on distroless, as a non-root user.
#
#   docker build -t keyage .                  compiles from source (stage "source")
#   goreleaser release (dockers_v2)           copies its release binaries (stage "prebuilt")
#
# No shell and no curl in the image: "keyage health" is the health check.

# BINARY picks the stage the binary comes from: source or prebuilt.
ARG BINARY=source

FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS source
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w -X github.com/keyage/keyage/internal/cli.Version=${VERSION}" \
    -o /out/keyage ./cmd/keyage \
 && mkdir -p /out/state

FROM scratch AS prebuilt
ARG TARGETPLATFORM
COPY $TARGETPLATFORM/keyage /out/keyage
WORKDIR /out/state

# hadolint ignore=DL3006
FROM ${BINARY} AS binary

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=binary /out/keyage /usr/local/bin/keyage
COPY --from=binary --chown=65532:65532 /out/state /var/lib/keyage
COPY LICENSE NOTICE /usr/share/doc/keyage/
USER 65532:65532
WORKDIR /var/lib/keyage
EXPOSE 8080
VOLUME ["/var/lib/keyage"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD ["keyage", "health"]
ENTRYPOINT ["keyage"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--config", "/etc/keyage/keyage.yaml", "--state", "/var/lib/keyage/keyage.db", "--auth-token-file", "/run/secrets/keyage-token"]
