#!/usr/bin/env bash
# The image `make image` builds (k8s.image) runs the tiny model. Run as root (it
# installs buildah, podman and debootstrap from Debian where missing); skips with a
# reason otherwise. podman is tried first; where its OCI runtime cannot start a
# container (in nested sandboxes crun refuses: setrlimit not permitted, cgroups in
# hybrid mode), buildah runs the same image with chroot isolation, and the line
# says which ran it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "image-test: skipped: needs root (debootstrap, buildah)"
  exit 0
fi
if ! command -v buildah >/dev/null || ! command -v debootstrap >/dev/null || ! command -v podman >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah podman debootstrap >/dev/null
fi
IMAGE=${IMAGE:-gostyle-image-test:ci}
make --no-print-directory image IMAGE="$IMAGE"
ctr=""
cleanup() {
  [ -z "$ctr" ] || buildah rm "$ctr" >/dev/null 2>&1 || true
  buildah rmi -f "$IMAGE" >/dev/null 2>&1 || true
}
trap cleanup EXIT
out=/tmp/image-test
args=(-config experiments/paper.yaml -set model=testdata/vgg19-tiny -set width=64 -set height=48
  -set iterations=2 -set checkpoint_every=1 -out "$out")
check='test -s '"$out"'/shipwreck_starry_night/final.png && runner -version | head -1'
log=$(mktemp)
if podman run --rm --entrypoint /bin/sh "$IMAGE" -c 'runner "$@" && '"$check" sh "${args[@]}" >"$log" 2>&1; then
  echo "image-test: podman ran the tiny model in $IMAGE: $(tail -1 "$log")"
  exit 0
fi
echo "image-test: podman could not run $IMAGE here ($(grep -m1 -i 'error' "$log" || tail -1 "$log")); trying buildah with chroot isolation"
ctr=$(buildah from "$IMAGE")
buildah run --isolation chroot "$ctr" -- /bin/sh -c 'runner "$@" && '"$check" sh "${args[@]}" >"$log" 2>&1 || {
  echo "image-test: FAILED: the tiny model did not run in $IMAGE:" >&2
  cat "$log" >&2
  exit 1
}
echo "image-test: buildah (chroot isolation) ran the tiny model in $IMAGE: $(tail -1 "$log")"
