#!/bin/sh
# rootfs.sh OUT: builds the messager image's root filesystem in OUT/rootfs. This script is the
# one definition of what the image holds. The Dockerfile's builder stage runs it and the final
# stage (FROM scratch) copies OUT/rootfs to /; test/cluster/up runs it too and packs the same
# tree with test/cluster/imagetool, without docker or a registry; test/cluster/image-equivalence
# checks that the two images are the same.
#
#   VERSION=v0.1.0 build/image/rootfs.sh /tmp/messager-image    # as root, from anywhere
#
# Run it as root: /data and /home/nonroot must belong to nonroot (65532), and the image takes
# ownership from the tree (COPY --from keeps it; imagetool packs what it finds).
#
# Environment: VERSION is stamped into the binary (default dev); GO is the go command (default
# go; may carry a prefix such as `nice -n 10 go`); CA_BUNDLE is the CA certificates file to copy
# (default /etc/ssl/certs/ca-certificates.crt, Debian's bundle, as in the golang image).
#
# What OUT/rootfs holds, and why:
#   messager                            the static binary (CGO_ENABLED=0: no libc in the image), 0755
#   etc/passwd, etc/group               from build/image/etc: root, nobody and nonroot (65532), so
#                                       the user has a name and a home for tools that look it up
#   etc/ssl/certs/ca-certificates.crt   for TLS to managed PostgreSQL/Redis and OTLP endpoints
#   data                                0755, 65532: `messager all` keeps its SQLite file here and
#                                       works without a volume
#   home/nonroot                        0700, 65532: nonroot's home in etc/passwd
#   tmp                                 1777
# Everything else belongs to root. Every mode is set here, not left to the caller's umask, so the
# tree is the same wherever it is built.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 OUT   (writes OUT/rootfs)" >&2; exit 2; }
case $1 in /*) out=$1 ;; *) out=$PWD/$1 ;; esac
[ "$(id -u)" = 0 ] || { echo "$0: run as root: data and home/nonroot must be chowned to 65532" >&2; exit 1; }
cd "$(dirname "$0")/../.."
VERSION=${VERSION:-dev}
GO=${GO:-go}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
umask 022

root=$out/rootfs
rm -rf "$root"
mkdir -p "$out"
install -d -m 0755 -o 0 -g 0 "$root" "$root/etc" "$root/etc/ssl" "$root/etc/ssl/certs" "$root/home"

# $GO is not quoted: it may be a command with a prefix (nice, env ...).
CGO_ENABLED=0 $GO build -trimpath \
  -ldflags "-s -w -X github.com/messager/messager/internal/version.Version=$VERSION" \
  -o "$root/messager" ./cmd/messager
chown 0:0 "$root/messager"
chmod 0755 "$root/messager"

install -m 0644 -o 0 -g 0 build/image/etc/passwd "$root/etc/passwd"
install -m 0644 -o 0 -g 0 build/image/etc/group "$root/etc/group"
install -m 0644 -o 0 -g 0 "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
install -d -m 0755 -o 65532 -g 65532 "$root/data"
install -d -m 0700 -o 65532 -g 65532 "$root/home/nonroot"
install -d -m 1777 -o 0 -g 0 "$root/tmp"
