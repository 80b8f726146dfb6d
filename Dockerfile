# surge's container image (the Helm chart's default image; docs/kubernetes.md).
#   docker build -t REGISTRY/surge:0.1.0 .
# Thin on purpose: the build stage runs scripts/setup.sh, the same script as the README and
# CI, so the image builds exactly what the tests tested; the runtime stage adds only the
# shared libraries surge links (tests/helm/check_dockerfile.sh keeps that list honest).

FROM debian:bookworm-slim AS build
WORKDIR /src
COPY . .
RUN scripts/setup.sh

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates libczmq4 libzmq5 libcurl4 libmsgpackc2 libyaml-0-2 \
        libevent-2.1-7 libevent-pthreads-2.1-7 libjansson4 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 surge \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin surge
COPY --from=build /src/build/surge /usr/local/bin/surge
# Non-root, and nothing under / needs to be writable: the chart mounts /tmp and /results.
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["surge"]
CMD ["--help"]
