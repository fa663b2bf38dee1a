# Multi-stage build: a static binary on a minimal base, running as non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/paygate ./cmd/paygate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/paygate /paygate
# The sandbox keeps its SQLite file here; production uses PostgreSQL.
ENV PAYGATE_DATA_DIR=/tmp/paygate PAYGATE_ADDR=:8080
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/paygate"]
CMD ["serve"]
