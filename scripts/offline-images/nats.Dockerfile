# switchboard-offline/nats:<major.minor>, built by scripts/offline-images.sh:
# Debian's nats-server package, and busybox's wget for health checks, on a
# Debian base made with debootstrap. It is not the official nats image; it is
# run the same way: the container's command is nats-server's flags, and
# without flags it serves the configuration in /etc/nats/nats-server.conf.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY debs/ /tmp/debs/
RUN dpkg -i /tmp/debs/*.deb \
  && rm -rf /tmp/debs \
  && ln -s /bin/busybox /usr/local/bin/wget \
  && nats-server --version
COPY nats-server.conf /etc/nats/nats-server.conf
EXPOSE 4222 8222
ENTRYPOINT ["nats-server"]
CMD ["--config", "/etc/nats/nats-server.conf"]
