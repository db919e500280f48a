#!/usr/bin/env bash
# redis-image.sh builds lockbench/redis:local, a FROM-scratch Docker image that
# holds this machine's /usr/bin/redis-server, every shared library ldd lists for
# it, the dynamic loader and an empty writable /data directory.
#
# The docker provider (cluster/docker.go) uses it by default because no image
# can be pulled here. Where pulling works, LOCKBENCH_REDIS_IMAGE=redis:7.4 is
# an alternative and this script is not needed.
#
# The script is idempotent: when the image exists and its
# lockbench.redis-sha256 label equals the checksum of the local redis-server
# binary, nothing is rebuilt. Set LOCKBENCH_REDIS_IMAGE_FORCE=1 to rebuild.
# Requires docker, ldd and the redis-server package (apt-get install redis-server).
#
# Usage: scripts/redis-image.sh        (prints the image tag on stdout)
set -euo pipefail

readonly TAG="lockbench/redis:local"
# LOCKBENCH_REDIS_SERVER picks another binary; it is installed as
# /usr/bin/redis-server in the image either way.
readonly SERVER="${LOCKBENCH_REDIS_SERVER:-/usr/bin/redis-server}"
readonly SHA_LABEL="lockbench.redis-sha256"
# Bump when the image layout changes so that existing images are rebuilt.
readonly LAYOUT_LABEL="lockbench.image-layout"
readonly LAYOUT="1"

die() {
	echo "redis-image.sh: $*" >&2
	exit 1
}

command -v docker >/dev/null 2>&1 ||
	die "docker is not installed; install Docker (apt-get install docker.io) or use the exec provider"
docker info >/dev/null 2>&1 ||
	die "the Docker daemon is not reachable; start it (systemctl start docker) or check DOCKER_HOST and permissions on the socket"
[[ -f "$SERVER" && -x "$SERVER" ]] ||
	die "$SERVER not found; install it with: apt-get install redis-server"
command -v ldd >/dev/null 2>&1 || die "ldd not found; it is needed to list redis-server's libraries"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found (coreutils)"

# On Debian /usr/bin/redis-server is a symlink to redis-check-rdb; the binary
# picks its mode from argv[0], so the image holds the real file under the name
# redis-server.
real_server="$(readlink -f "$SERVER")"
sum="$(sha256sum "$real_server" | cut -d' ' -f1)"

old_id="$(docker image inspect -f '{{.Id}}' "$TAG" 2>/dev/null || true)"
if [[ "${LOCKBENCH_REDIS_IMAGE_FORCE:-0}" != 1 && -n "$old_id" ]]; then
	have_sum="$(docker image inspect -f "{{ index .Config.Labels \"$SHA_LABEL\" }}" "$TAG")"
	have_layout="$(docker image inspect -f "{{ index .Config.Labels \"$LAYOUT_LABEL\" }}" "$TAG")"
	if [[ "$have_sum" == "$sum" && "$have_layout" == "$LAYOUT" ]]; then
		echo "redis-image.sh: $TAG is up to date (redis-server sha256 $sum)" >&2
		echo "$TAG"
		exit 0
	fi
	echo "redis-image.sh: $TAG is stale, rebuilding" >&2
fi

ctx="$(mktemp -d -t lockbench-redis-image.XXXXXX)"
trap 'rm -rf "$ctx"' EXIT
root="$ctx/rootfs"
mkdir -p "$root/usr/bin" "$ctx/data"

cp "$real_server" "$root/usr/bin/redis-server"
chmod 0755 "$root/usr/bin/redis-server"

# Every absolute path in ldd's output: "libx.so => /path (0x..)" and the
# loader line "/lib64/ld-linux-x86-64.so.2 (0x..)". linux-vdso has no path.
mapfile -t libs < <(ldd "$real_server" | grep -o '/[^ ]*' | sort -u)
[[ ${#libs[@]} -gt 0 ]] || die "ldd listed no libraries for $real_server"
for lib in "${libs[@]}"; do
	[[ -e "$lib" ]] || die "ldd lists $lib but it does not exist"
	mkdir -p "$root$(dirname "$lib")"
	# -L: copy the file a symlink points to, under the name ldd printed
	# (that is the name the loader and DT_NEEDED look for).
	cp -L "$lib" "$root$lib"
done

cat >"$ctx/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
COPY data/ /data/
LABEL $SHA_LABEL="$sum" $LAYOUT_LABEL="$LAYOUT" org.opencontainers.image.description="redis-server from the build host, for lockbench"
EXPOSE 6379
WORKDIR /data
ENTRYPOINT ["/usr/bin/redis-server"]
EOF

# The classic builder never contacts a registry for FROM scratch; BuildKit may
# try to resolve frontends or metadata, and nothing can be pulled here.
echo "redis-image.sh: building $TAG from $real_server (${#libs[@]} libraries)" >&2
DOCKER_BUILDKIT=0 docker build --quiet --tag "$TAG" "$ctx" >/dev/null 2>"$ctx/build.err" || {
	cat "$ctx/build.err" >&2
	die "docker build failed"
}
new_id="$(docker image inspect -f '{{.Id}}' "$TAG")"
# The previous build is now untagged; drop it unless a container still uses it.
if [[ -n "$old_id" && "$old_id" != "$new_id" ]]; then
	docker image rm "$old_id" >/dev/null 2>&1 || true
fi
echo "redis-image.sh: built $TAG" >&2
echo "$TAG"
