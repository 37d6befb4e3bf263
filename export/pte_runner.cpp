// The minimal C++ integration of model.pte (hp-export --format pte): load it with ExecuTorch's
// Module, price houses given as float32 rows of the model's features (in the order its
// houseprice_metadata method names), write one price a line. hp-export's parity gate runs the
// .pte through this same program (export/pte_export.py).
//
//   price_houses model.pte N < houses.f32 > prices.txt
//   price_houses model.pte --metadata        (the model contract, as JSON)
//
// Build against the runtime the executorch wheel ships (no torch at run time):
//   ET=$(python -c 'import executorch; print(list(executorch.__path__)[0])')
//   TORCH=$(python -c 'import torch, os; print(os.path.dirname(torch.__file__))')
//   g++ -std=c++17 -O2 price_houses.cpp -I"$ET/include" \
//       -I"$ET/include/executorch/runtime/core/portable_type/c10" -I"$TORCH/include" \
//       -Wno-deprecated-declarations -L"$ET/lib" -Wl,-rpath,"$ET/lib" -Wl,--no-as-needed \
//       -lexecutorch -lexecutorch_backend_xnnpack -lexecutorch_kernels_optimized -o price_houses
// (torch's headers at build time only: ExecuTorch's tensor types include a few of c10's.)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor.h>

using executorch::extension::Module;
using executorch::extension::from_blob;

int main(int argc, char **argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s model.pte N < houses.f32\n", argv[0]);
        return 2;
    }
    Module module(argv[1]);
    auto metadata = module.execute("houseprice_metadata");  // the model contract, as JSON
    if (!metadata.ok()) {
        std::fprintf(stderr, "%s: not a houseprice model (no houseprice_metadata)\n", argv[1]);
        return 3;
    }
    if (std::string(argv[2]) == "--metadata") {
        std::printf("%s\n", metadata->at(0).toString().data());
        return 0;
    }
    const long rows = std::atol(argv[2]);
    auto meta = module.method_meta("forward");  // features: [batch, width] float32
    if (!meta.ok()) {
        std::fprintf(stderr, "%s: no forward method\n", argv[1]);
        return 3;
    }
    const long width = static_cast<long>(meta->input_tensor_meta(0)->sizes()[1]);
    std::vector<float> houses(static_cast<size_t>(rows * width));
    if (std::fread(houses.data(), sizeof(float), houses.size(), stdin) != houses.size()) {
        std::fprintf(stderr, "expected %ld rows of %ld float32 features on stdin\n", rows, width);
        return 2;
    }
    auto features = from_blob(houses.data(), {static_cast<int>(rows), static_cast<int>(width)});
    auto prices = module.forward(features);
    if (!prices.ok()) {
        std::fprintf(stderr, "forward failed (error 0x%x)\n", static_cast<unsigned>(prices.error()));
        return 1;
    }
    const auto &tensor = prices->at(0).toTensor();
    const float *price = tensor.const_data_ptr<float>();
    for (long i = 0; i < tensor.numel(); ++i) {
        std::printf("%.9g\n", price[i]);
    }
    return 0;
}
