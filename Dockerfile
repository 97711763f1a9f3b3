FROM golang:1.26 AS build
WORKDIR /src
ENV GOTOOLCHAIN=local CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -o /out/steward ./cmd/steward

FROM alpine:3.20
RUN adduser -D -H steward && apk add --no-cache tzdata ca-certificates
COPY --from=build /out/steward /usr/local/bin/steward
USER steward
EXPOSE 8080
ENTRYPOINT []
CMD ["steward", "api"]
