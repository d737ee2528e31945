// The Debian packages nsbox needs, shared by setup.mjs (this host) and vm/ (the test guest's
// image must hold them all: it has no network).

/** Debian packages every run needs, and the extra sets some npm scripts ask for. */
export const aptSets = {
  base: [
    'build-essential',
    'python3',
    'pkg-config',
    'busybox-static',
    'libseccomp-dev',
    'libcap-dev',
    'libbpf-dev',
    'libmnl-dev',
    // The network plugin's nft batches run in process (native/src/nftables.c).
    'libnftables-dev',
    'nftables',
    'iproute2',
    'util-linux',
    'e2fsprogs',
    'xfsprogs',
    'openssl',
    'zstd',
    'xz-utils',
    // promtool (tracking's /metrics format check) and a real Prometheus scraping nsboxd in tests.
    'prometheus',
    // nsbox top's test drives it in a real terminal.
    'tmux',
  ],
  /** lxcfs: bench/views runs Debian's on a directory of its own, next to the boxes' own views. */
  bench: ['crun', 'runc', 'lxcfs'],
  /** Installed with their recommends: podman needs its network and storage helpers (tests of nsbox-runc). */
  withRecommends: ['podman'],
};
