# The quinebox sandbox image: the judged languages' interpreters, one unprivileged user and sandbox/.
#
# Default base is the official slim Python image. Without a registry, build a base with
# scripts/build-base-image.sh and pass it in:  --build-arg BASE_IMAGE=quinebox-base:bookworm
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

# The user is written with shell builtins because a debootstrap minbase root may lack useradd.
# /box is its home and the working dir; at run time a sized tmpfs is normally mounted over it.
RUN printf 'quinebox:x:10001:10001:quinebox:/box:/usr/sbin/nologin\n' >>/etc/passwd \
    && printf 'quinebox:x:10001:\n' >>/etc/group \
    && mkdir -p /box \
    && chown 10001:10001 /box

# The interpreters of the other judged languages; a base from build-base-image.sh has them already.
RUN command -v node >/dev/null && command -v ruby >/dev/null && command -v gcc >/dev/null \
    || (apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs ruby gcc libc6-dev \
        && rm -rf /var/lib/apt/lists/*)

# Root-owned and so read-only to the candidate, which is assumed to be able to read it.
COPY sandbox/ /opt/quinebox/sandbox/

LABEL org.quinebox.image=sandbox
# Numeric, so runtimes can check it is non-root without reading the image's /etc/passwd.
USER 10001:10001
WORKDIR /box
ENTRYPOINT ["python3", "-I", "/opt/quinebox/sandbox/supervisor.py"]
