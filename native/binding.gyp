{
  "target_defaults": {
    "include_dirs": [
      "<!(node -p \"require('node-addon-api').include_dir\")"
    ],
    "defines": [
      "NAPI_VERSION=8",
      "NODE_ADDON_API_DISABLE_DEPRECATED",
      "NAPI_CPP_EXCEPTIONS"
    ],
    "cflags!": [
      "-fno-exceptions"
    ],
    "cflags_cc!": [
      "-fno-exceptions"
    ],
    "cflags_cc": [
      "-std=c++17",
      "-O2",
      "-Wall",
      "-Wextra",
      "-fexceptions"
    ],
    "libraries": [
      "-lpthread"
    ]
  },
  "targets": [
    {
      "target_name": "wrenn_native",
      "sources": [
        "src/addon.cc",
        "src/handshake.cc",
        "src/page-server.cc",
        "src/sparse-extents.cc",
        "src/device-filter.cc",
        "src/seqpacket-channel.cc",
        "src/disk-mount.cc",
        "src/conntrack.cc",
        "src/netns.cc"
      ]
    },
    {
      "# test-only": "the guest stand-in and the device filter's inspection; built by `build-native.mjs --test-guest` (npm test, bench), never by npm run build",
      "target_name": "wrenn_test_guest",
      "sources": [
        "src/test-guest-addon.cc",
        "src/handshake.cc",
        "src/test-guest.cc",
        "src/device-filter.cc",
        "src/test-device-filter.cc"
      ]
    },
    {
      "target_name": "wrenn-sandbox",
      "type": "executable",
      "sources": [
        "sandbox/wrenn-sandbox.c"
      ],
      "cflags": [
        "-std=gnu11",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Werror=implicit-function-declaration"
      ],
      "libraries": [
        "-lseccomp"
      ]
    },
    {
      "# PID 1 in agent mode": "static: no loader, no libseccomp resident in every sandbox",
      "target_name": "wrenn-init-agent",
      "type": "executable",
      "sources": [
        "sandbox/init-agent.c",
        "sandbox/init-agent-main.c"
      ],
      "cflags": [
        "-std=gnu11",
        "-Os",
        "-Wall",
        "-Wextra",
        "-Werror=implicit-function-declaration"
      ],
      "ldflags": [
        "-static",
        "-s"
      ]
    }
  ]
}
