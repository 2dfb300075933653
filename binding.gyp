{
  "variables": {
    "libtorch%": "<!(node -p \"process.env.LIBTORCH || ''\")",
    "with_nccl%": "<!(node scripts/libtorch-cuda.cjs)"
  },
  "targets": [
    {
      "target_name": "catface",
      "sources": ["native/addon.cc", "native/tensor.cc", "native/dispatch.cc", "native/runtime.cc",
                  "native/dist-store.cc", "native/dist-group.cc", "native/dist-reducer.cc"],
      # native/shim stands in for the dist-autograd header that c10d/reducer.hpp includes and Debian's
      # libtorch-dev 1.13.1 does not ship (see the header)
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/shim"],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=8", "USE_C10D_GLOO"],
      "cflags!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "conditions": [
        ["libtorch==''", {
          "include_dirs": ["/usr/include/torch/csrc/api/include"],
          "libraries": ["-Wl,--no-as-needed", "-ltorch", "-ltorch_cpu", "-lc10"]
        }, {
          "include_dirs": ["<(libtorch)/include", "<(libtorch)/include/torch/csrc/api/include"],
          "libraries": ["-L<(libtorch)/lib", "-Wl,-rpath,<(libtorch)/lib", "-Wl,--no-as-needed", "-ltorch", "-ltorch_cpu", "-lc10"]
        }],
        ["with_nccl=='1'", {
          "defines": ["CATFACE_WITH_NCCL", "USE_C10D_NCCL"],
          "include_dirs": ["<!(node -p \"(process.env.CUDA_HOME || '/usr/local/cuda') + '/include'\")"],
          "libraries": ["-ltorch_cuda", "-lc10_cuda"]
        }]
      ]
    }
  ]
}
