{
  # Every native program from one C core, each linking the shared helpers of src/common.c.
  # Built only through npm scripts (`npm run build:native`): npm points node-gyp at the local
  # Node headers (plain node-gyp would try to download them).
  "target_defaults": {
    "cflags": ["-Wall", "-Wextra", "-O2", "-D_GNU_SOURCE", "-fno-strict-aliasing"],
    "cflags!": ["-fno-exceptions"],
    "include_dirs": ["src"]
  },
  "targets": [
    {
      "target_name": "nsbox_native",
      "sources": ["src/addon.c", "src/addon-glue.c", "src/remove-tree.c", "src/addon-netlink.c", "src/netlink.c", "src/netlink-tc.c", "src/root-write.c", "src/addon-idmap.c", "src/nftables.c", "src/addon-nftables.c", "src/addon-seccomp.c"],
      "libraries": ["-lmnl", "-lnftables", "-lseccomp"]
    },
    {
      "target_name": "nsbox-launcher",
      "type": "executable",
      "sources": [
        "src/launcher.c", "src/program.c", "src/common.c",
        "src/launcher-exe.c", "src/launcher-host.c", "src/launcher-mount.c",
        "src/launcher-caps.c", "src/launcher-seccomp.c", "src/launcher-seccomp-cache.c", "src/launcher-final.c",
        "src/launcher-tty.c", "src/launcher-create.c", "src/launcher-join.c",
        "src/launcher-sync.c", "src/launcher-idmap.c", "src/userns-map.c", "src/launcher-bpf.c",
        "src/mount-flags.c", "src/launcher-process.c", "src/launcher-hold.c",
        "src/launcher-hooks.c", "src/launcher-copyup.c", "src/launcher-timens.c"
      ],
      "libraries": ["-lseccomp", "-lbpf"]
    },
    {
      "target_name": "nsbox-shim",
      "type": "executable",
      "sources": [
        "src/shim.c", "src/shim-supervise.c", "src/shim-log.c", "src/shim-exit.c",
        "src/common.c", "src/shim-notify.c", "src/shim-views.c", "src/shim-console.c"
      ],
      "ldflags": ["-static"]
    },
    {
      # The per-box seccomp-notify helper the shim starts (and restarts): static and small.
      "target_name": "nsbox-notify",
      "type": "executable",
      "sources": ["src/notify.c", "src/notify-handlers.c", "src/notify-quota.c", "src/common.c"],
      "ldflags": ["-static"]
    },
    {
      # The per-box /proc views server the shim starts (and restarts) on the FUSE connection
      # it keeps: static and small, like nsbox-notify.
      "target_name": "nsbox-proc-view",
      "type": "executable",
      "sources": ["src/proc-view.c", "src/proc-view-mount.c", "src/proc-view-render.c", "src/proc-view-kmsg.c", "src/proc-view-kmsg-host.c", "src/proc-view-kmsg-oom.c", "src/common.c"],
      "libraries": ["-lm"],
      "ldflags": ["-static"]
    },
    {
      # The migration plugin's restore: criu in a mount namespace of its own where the box's
      # root is idmapped as the launcher made it (src/idmap-root.c).
      "target_name": "nsbox-idmap-root",
      "type": "executable",
      "sources": ["src/idmap-root.c", "src/userns-map.c", "src/mount-flags.c", "src/common.c"],
      "ldflags": ["-static"]
    },
    {
      # nsbox-runc's native front (packages/oci copies it next to its dist/): static, so
      # that it starts fast from any caller.
      "target_name": "nsbox-runc",
      "type": "executable",
      "sources": ["src/runc-front.c", "src/common.c"],
      "ldflags": ["-static"]
    }
  ]
}
