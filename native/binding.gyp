{
  # Three targets from one C core. Built only through npm scripts (see STYLE.md):
  # npm points node-gyp at the local Node headers.
  "target_defaults": {
    "cflags": ["-Wall", "-Wextra", "-O2", "-D_GNU_SOURCE", "-fno-strict-aliasing"],
    "cflags!": ["-fno-exceptions"],
    "include_dirs": ["src"]
  },
  "targets": [
    {
      "target_name": "nsbox_native",
      "sources": ["src/addon.c", "src/remove-tree.c"]
    },
    {
      "target_name": "nsbox-launcher",
      "type": "executable",
      "sources": [
        "src/launcher.c", "src/program.c", "src/common.c",
        "src/launcher-exe.c", "src/launcher-host.c", "src/launcher-mount.c",
        "src/launcher-caps.c", "src/launcher-seccomp.c", "src/launcher-final.c",
        "src/launcher-tty.c", "src/launcher-create.c", "src/launcher-join.c",
        "src/launcher-sync.c", "src/launcher-idmap.c", "src/launcher-bpf.c"
      ],
      "libraries": ["-lseccomp", "-lbpf"]
    },
    {
      "target_name": "nsbox-shim",
      "type": "executable",
      "sources": ["src/shim.c"],
      "ldflags": ["-static"]
    }
  ]
}
