# Multi-stage build: a static binary on a minimal base, running as non-root.
# Base images are pinned: the Go toolchain by its exact release (the binary
# carries that release's standard library), the runtime image by digest
# (distroless publishes no version tags). Update both deliberately, in a
# commit of their own. .dockerignore keeps .git, local data directories
# (SQLite files, server_secret) and test output out of the build context.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/paygate ./cmd/paygate

FROM gcr.io/distroless/static-debian12:nonroot@sha256:2b7c93f6d6648c11f0e80a48558c8f77885eb0445213b8e69a6a0d7c89fc6ae4
COPY --from=build /out/paygate /paygate
# The sandbox keeps its SQLite file here; production uses PostgreSQL.
ENV PAYGATE_DATA_DIR=/tmp/paygate PAYGATE_ADDR=:8080
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/paygate"]
CMD ["serve"]
