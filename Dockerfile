# A static intake binary in a minimal image.
#   docker build -t intake .
#   docker run -v /srv/intake:/var/lib/intake -v /etc/intake:/etc/intake:ro intake
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /intake ./cmd/intake

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /intake /usr/local/bin/intake
VOLUME /var/lib/intake
USER nonroot
ENTRYPOINT ["/usr/local/bin/intake"]
CMD ["serve", "-config", "/etc/intake/intake.toml"]
