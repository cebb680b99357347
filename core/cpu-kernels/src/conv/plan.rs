//! The one place where a convolution's algorithm is chosen, for each of its three passes.
//!
//! Each algorithm says what it can compute ([`super::winograd::computes`] and the others:
//! shapes only, nothing about speed); the rules here say where it pays, from per-call
//! measurements on 2 cores (ms per call, min over alternating runs, `cargo bench -p
//! ring-wgpu-cpu-kernels --bench convbench`), and are tried in order: the first that holds wins,
//! and im2col + GEMM ([`super::gemm`]), which computes every geometry, is the last resort.
//! The kernels marked AVX-512 run only where the CPU has it ([`CpuFeatures`]), and in
//! WebAssembly (4-wide SIMD, one thread in the browser) Winograd pays from fewer channels;
//! the plan is a pure function of the geometry and those features, so a test can list it
//! for every layer of both encoders on any machine.

use super::{ConvGeometry, direct, direct_small, strided_input_grad, winograd};

/// What the CPU offers the kernels that need more than baseline x86-64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuFeatures {
    /// AVX-512F: the direct kernels ([`super::direct`], [`super::direct_small`],
    /// [`super::strided_input_grad`]).
    pub avx512: bool,
    /// WebAssembly (simd128): Winograd from 16 channels and rows of 8 outputs.
    pub wasm: bool,
}

impl CpuFeatures {
    /// This CPU's features, detected at run time (WebAssembly: at compile time).
    pub fn detected() -> Self {
        CpuFeatures { avx512: crate::simd::avx512(), wasm: cfg!(target_arch = "wasm32") }
    }
}

/// The algorithm of a forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// Winograd F(4x4, 3x3) ([`super::winograd4`]).
    Winograd4,
    /// Winograd F(2x2, 3x3) ([`super::winograd`]).
    Winograd,
    /// The row-vectorised direct 3x3 kernel ([`super::direct`], AVX-512).
    Direct,
    /// The channel-vectorised direct kernel for small images and stride 2
    /// ([`super::direct_small`], AVX-512).
    DirectSmall,
    /// im2col + one GEMM per image ([`super::gemm`]).
    Gemm,
}

/// The algorithm of an input gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputGrad {
    /// A stride-1 layer's input gradient is a forward convolution of dy (padded by
    /// k - 1 - p, kernels flipped, channel axes swapped), computed by this forward algorithm
    /// (one GEMM of depth Cout k k per image instead of a GEMM of depth Cout and a scatter).
    ForwardOfDy(Forward),
    /// By phases of the input grid ([`super::strided_input_grad`], AVX-512).
    StridedPhases,
    /// A GEMM per image and col2im ([`super::gemm`]).
    Gemm,
}

/// The algorithm of a weight gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightGrad {
    /// Winograd F(2x2, 3x3)'s transforms run backwards ([`super::winograd`]).
    Winograd,
    /// The direct kernel's 16-lane sums ([`super::direct`], AVX-512).
    Direct,
    /// The channel-vectorised direct kernel ([`super::direct_small`], AVX-512).
    DirectSmall,
    /// im2col + GEMM, split by images or by rows of dW ([`super::gemm`]).
    Gemm,
}

/// The algorithms of one convolution's three passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The forward pass.
    pub forward: Forward,
    /// The input gradient.
    pub input_grad: InputGrad,
    /// The weight gradient.
    pub weight_grad: WeightGrad,
}

/// The plan of every pass of `g` on a CPU with `cpu`.
pub fn plan(g: &ConvGeometry, cpu: CpuFeatures) -> Plan {
    Plan { forward: forward(g, cpu), input_grad: input_grad(g, cpu), weight_grad: weight_grad(g, cpu) }
}

/// The forward pass's algorithm: the first rule that holds, in this order.
pub fn forward(g: &ConvGeometry, cpu: CpuFeatures) -> Forward {
    if winograd4_pays(g, cpu) {
        Forward::Winograd4
    } else if winograd_pays(g) {
        Forward::Winograd
    } else if cpu.avx512 && direct_pays(g) {
        Forward::Direct
    } else if cpu.avx512 && direct_small_pays(g) {
        Forward::DirectSmall
    } else {
        Forward::Gemm
    }
}

/// The input gradient's algorithm: a stride-1 layer's is the forward pass of dy
/// ([`transposed`]); a stride-2 layer's by phases where that pays; else the GEMM and col2im.
pub fn input_grad(g: &ConvGeometry, cpu: CpuFeatures) -> InputGrad {
    if let Some(t) = transposed(g) {
        InputGrad::ForwardOfDy(forward(&t, cpu))
    } else if cpu.avx512 && strided_phases_pay(g) {
        InputGrad::StridedPhases
    } else {
        InputGrad::Gemm
    }
}

/// The weight gradient's algorithm: the first rule that holds, in this order.
pub fn weight_grad(g: &ConvGeometry, cpu: CpuFeatures) -> WeightGrad {
    if winograd_weight_grad_pays(g, cpu) {
        WeightGrad::Winograd
    } else if forward(g, cpu) == Forward::Direct {
        // Wherever the forward pass runs on it. Measured against im2col + GEMM: 16
        // channels of 32 x 32 at B = 64 2.14-2.20 -> 1.69-1.74, 32 of 32 x 32 8.1 ->
        // 6.6-6.7, the small stem (3 -> 16) 0.72-1.14 -> 0.38-0.72, ResNet-18's stem
        // (3 -> 64, B = 32) 3.5-5.7 -> 0.73-0.78 (a patch matrix only 27 rows deep made a
        // poor GEMM).
        WeightGrad::Direct
    } else if forward(g, cpu) == Forward::DirectSmall && direct_small_weight_grad_pays(g) {
        WeightGrad::DirectSmall
    } else {
        WeightGrad::Gemm
    }
}

/// The geometry of a stride-1 layer's input gradient as a forward convolution of dy: Cout
/// channels in, Cin out, padded by k - 1 - p (`None` at other strides, for 1x1 kernels, and
/// where p >= k).
pub fn transposed(g: &ConvGeometry) -> Option<ConvGeometry> {
    let k = g.kernel;
    (g.stride == 1 && g.pad < k && k > 1).then(|| ConvGeometry {
        batch: g.batch,
        cin: g.cout,
        cout: g.cin,
        height: g.out_height(),
        width: g.out_width(),
        kernel: k,
        stride: 1,
        pad: k - 1 - g.pad,
    })
}

/// F(4x4, 3x3) for the forward pass: at least 64 channels in and out, rows of at least 16
/// outputs (ResNet-18's first two stages). Against F(2x2, 3x3), per call: 64 channels of
/// 32 x 32 at B = 32 0.76x (8.9 -> 6.1-6.9 ms), 128 of 16 x 16 0.78x, 64 of 16 x 16 at B = 64
/// 0.88x. Shorter rows leave too few tiles per row: 256 channels of 8 x 8 at B = 32 0.96x,
/// within noise; 64 of 8 x 8 at B = 64 1.8x; 512 of 4 x 4 2.4x.
///
/// In WebAssembly (headless Chromium, one thread, the small encoder's 16-64 channel layers of
/// 32 x 32 to 8 x 8 at B = 64), with F(2x2, 3x3)'s weight gradient below: the training step
/// 1.24x as fast as with im2col + GEMM there (medians of 6 alternated runs, 304.3 against
/// 244.6 images/s; BENCHMARKS.md, "The browser package's size"): with 4-wide SIMD the GEMM
/// took 79% of the step, so the multiplications Winograd saves count for more than natively.
fn winograd4_pays(g: &ConvGeometry, cpu: CpuFeatures) -> bool {
    if cpu.wasm {
        return winograd_pays_in_wasm(g);
    }
    let (channels, row) = (g.cin.min(g.cout), g.out_width());
    winograd::computes(g) && channels >= 64 && row >= 16
}

/// In WebAssembly both Winograd rules ([`winograd4_pays`], [`winograd_weight_grad_pays`]):
/// from 16 channels in and out and rows of 8 outputs.
fn winograd_pays_in_wasm(g: &ConvGeometry) -> bool {
    winograd::computes(g) && g.cin.min(g.cout) >= 16 && g.out_width() >= 8
}

/// F(2x2, 3x3): at least 64 channels in and out with rows of at least 16 outputs, or at
/// least 256 channels with rows of 8. Against im2col + GEMM at B = 32: 64 channels of
/// 32 x 32 14.3 -> 11.5, 128 of 16 x 16 13.2 -> 10.5, 256 of 8 x 8 12.5 -> 11.1. Shorter rows
/// or fewer channels leave the transforms too little work to amortise: 64 channels of 8 x 8
/// at B = 64 2.1 -> 2.6, 256 of 4 x 4 3.7 -> 4.6, 128 of 8 x 8 no gain; the small encoder's
/// 16-64 channel layers 1.2-2.5x slower.
fn winograd_pays(g: &ConvGeometry) -> bool {
    let (channels, row) = (g.cin.min(g.cout), g.out_width());
    let pays = (channels >= 64 && row >= 16) || (channels >= 256 && row >= 8);
    winograd::computes(g) && pays
}

/// F(2x2, 3x3)'s weight gradient: where its forward rule holds, with at least 128 channels
/// or rows of at least 32 outputs. At B = 32: 64 channels of 32 x 32 14.9-15.0 -> 12.9-13.6,
/// 128 of 16 x 16 12.1-12.5 -> 10.5-10.9, 256 of 8 x 8 13.5-13.8 -> 10.4-12.2; but 64 of
/// 16 x 16 at B = 64 7.2-7.4 -> 8.1-8.2.
/// In WebAssembly: from 16 channels and rows of 8 (with [`winograd4_pays`]' measurement).
fn winograd_weight_grad_pays(g: &ConvGeometry, cpu: CpuFeatures) -> bool {
    if cpu.wasm {
        return winograd_pays_in_wasm(g);
    }
    winograd_pays(g) && (g.cin.min(g.cout) >= 128 || g.out_width() >= 32)
}

/// The row-vectorised direct kernel: 3x3 stride-1 padding-1 layers with rows of at least 32
/// outputs (after Winograd). Against im2col + GEMM: 16 channels of 32 x 32 at B = 64
/// 1.84-2.07 -> 1.48-1.71, 32 of 32 x 32 7.1-7.3 -> 6.1-6.8, ResNet-18's stem (3 -> 64,
/// 32 x 32, B = 32) 1.24-1.27 -> 0.81-0.90, the small stem (3 -> 16) 0.37-0.40 -> 0.37-0.38;
/// shorter rows waste more of the computed column and blocks: 32 channels of 16 x 16 even
/// (1.66 vs 1.65-1.75), 16 of 16 x 16 even, 64 of 8 x 8 slower (1.67 -> 2.21).
fn direct_pays(g: &ConvGeometry) -> bool {
    direct::computes(g) && g.out_width() >= 32
}

/// The channel-vectorised direct kernel (after Winograd and the row-vectorised kernel).
///
/// Stride 1: rows of under 32 outputs, at least 32 channels in and a multiple of 32 out: the
/// small encoder's 16 x 16 and 8 x 8 stages, ResNet-18's 4 x 4 stage. Against im2col + GEMM:
/// 32 channels of 16 x 16 at B = 64 2.0-2.08 -> 1.86-1.92, 64 of 8 x 8 1.67-2.1 -> 1.51-1.89,
/// 512 of 4 x 4 at B = 32 12.2 -> 11.7 (the kernel at ~87% of that, near the cores' peak).
///
/// Stride 2: 3x3 kernels with a multiple of 32 output channels, the encoders' downsampling
/// layers: the small encoder's 16 -> 32 of 32 x 32 at B = 64 1.14-1.27 -> 0.96-1.07, 32 -> 64
/// of 16 x 16 1.10-1.12 -> 0.83; ResNet-18's at B = 32: 64 -> 128 of 32 x 32 6.81-6.82 ->
/// 5.86-6.2, 128 -> 256 of 16 x 16 6.26-6.79 -> 5.83-5.86, 256 -> 512 of 8 x 8 6.81-7.58 ->
/// 6.53-6.69. Not the 1x1 shortcuts (16 -> 32 of 32 x 32: 0.18 -> 0.27, one tap per channel
/// is too little work per broadcast).
fn direct_small_pays(g: &ConvGeometry) -> bool {
    let wide_blocks = g.cout.is_multiple_of(2 * direct_small::LANES);
    match g.stride {
        2 => direct_small::computes(g) && g.kernel == 3 && wide_blocks,
        _ => direct_small::computes(g) && g.out_width() < 32 && g.cin >= 32 && wide_blocks,
    }
}

/// The channel-vectorised kernel's weight gradient: where its forward pass runs, with at
/// most 128 channels at stride 1 and 64 at stride 2 (the small encoder's 16 x 16 and 8 x 8
/// stages and its two downsampling layers). Against im2col + GEMM at B = 64: 32 channels of
/// 16 x 16 1.94-2.15 -> 1.64-1.92, 64 of 8 x 8 1.81-2.14 -> 1.64-1.8, stride 2: 16 -> 32 of
/// 32 x 32 1.3-1.66 -> 1.1-1.26, 32 -> 64 of 16 x 16 1.19-1.57 -> 1.03-1.13; but ResNet-18's
/// 512 channels of 4 x 4 (B = 32) 14.5 -> 15.6 and its 64 -> 128 stride-2 layer 6.85-7.19 ->
/// 6.95-7.53, so those stay on the GEMM.
fn direct_small_weight_grad_pays(g: &ConvGeometry) -> bool {
    let most = if g.stride == 1 { 128 } else { 64 };
    g.cin.max(g.cout) <= most
}

/// The stride-2 input gradient by phases: 3x3 kernels with at most 64 input channels (the
/// small encoder's two downsampling layers and ResNet-18's first). 16 -> 32 of 32 x 32 at
/// B = 64 1.48-1.59 -> 1.31-1.33, 32 -> 64 of 16 x 16 1.19-1.34 -> 1.08-1.23, ResNet-18's
/// 64 -> 128 of 32 x 32 at B = 32 7.19-7.91 -> 6.47-7.28; its 128 -> 256 (6.28-6.84 ->
/// 6.77-6.79) and 256 -> 512 (7.06-8.6 -> 7.34-7.55) no faster, the 1x1 shortcuts slower
/// (16 -> 32 of 32 x 32: 0.28 -> 0.88; three of the four phases are zeros).
fn strided_phases_pay(g: &ConvGeometry) -> bool {
    strided_input_grad::computes(g) && g.kernel == 3 && g.cin <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    const AVX512: CpuFeatures = CpuFeatures { avx512: true, wasm: false };
    const BASELINE: CpuFeatures = CpuFeatures { avx512: false, wasm: false };
    const WASM: CpuFeatures = CpuFeatures { avx512: false, wasm: true };

    fn conv(batch: usize, cin: usize, cout: usize, side: usize, kernel: usize, stride: usize) -> ConvGeometry {
        ConvGeometry { batch, cin, cout, height: side, width: side, kernel, stride, pad: kernel / 2 }
    }

    /// Every distinct convolution of an encoder on 32-px inputs, with the stage widths
    /// `widths` (one BasicBlock per stage beyond the stem), named as in the model.
    fn layers(batch: usize, widths: &[usize]) -> Vec<(String, ConvGeometry)> {
        let mut out = vec![("stem".to_string(), conv(batch, 3, widths[0], 32, 3, 1))];
        let mut side = 32;
        for (stage, pair) in std::iter::once(&[widths[0], widths[0]][..]).chain(widths.windows(2)).enumerate() {
            let (cin, cout) = (pair[0], pair[1]);
            let stride = if cin == cout { 1 } else { 2 };
            out.push((format!("stage {} conv1", stage + 1), conv(batch, cin, cout, side, 3, stride)));
            side /= stride;
            out.push((format!("stage {} conv2", stage + 1), conv(batch, cout, cout, side, 3, 1)));
            if stride == 2 {
                out.push((format!("stage {} shortcut", stage + 1), conv(batch, cin, cout, side * 2, 1, 2)));
            }
        }
        out
    }

    fn listing(batch: usize, widths: &[usize], cpu: CpuFeatures) -> Vec<String> {
        layers(batch, widths).into_iter().map(|(name, g)| format!("{name}: {:?}", plan(&g, cpu))).collect()
    }

    #[test]
    fn every_layer_of_both_encoders_has_the_measured_algorithm() {
        use Forward as F;
        use InputGrad as I;
        use WeightGrad as W;
        let p = |forward, input_grad, weight_grad| format!("{:?}", Plan { forward, input_grad, weight_grad });
        // The small encoder (16-32-64) at B = 64: the direct kernels where the CPU has
        // AVX-512, Winograd nowhere (too few channels), else im2col + GEMM throughout.
        let small_avx512 = [
            ("stem", p(F::Direct, I::ForwardOfDy(F::Direct), W::Direct)),
            ("stage 1 conv1", p(F::Direct, I::ForwardOfDy(F::Direct), W::Direct)),
            ("stage 1 conv2", p(F::Direct, I::ForwardOfDy(F::Direct), W::Direct)),
            ("stage 2 conv1", p(F::DirectSmall, I::StridedPhases, W::DirectSmall)),
            ("stage 2 conv2", p(F::DirectSmall, I::ForwardOfDy(F::DirectSmall), W::DirectSmall)),
            ("stage 2 shortcut", p(F::Gemm, I::Gemm, W::Gemm)),
            ("stage 3 conv1", p(F::DirectSmall, I::StridedPhases, W::DirectSmall)),
            ("stage 3 conv2", p(F::DirectSmall, I::ForwardOfDy(F::DirectSmall), W::DirectSmall)),
            ("stage 3 shortcut", p(F::Gemm, I::Gemm, W::Gemm)),
        ];
        // ResNet-18's CIFAR form (64-128-256-512) at B = 32.
        let resnet18_avx512 = [
            ("stem", p(F::Direct, I::ForwardOfDy(F::Direct), W::Direct)),
            ("stage 1 conv1", p(F::Winograd4, I::ForwardOfDy(F::Winograd4), W::Winograd)),
            ("stage 1 conv2", p(F::Winograd4, I::ForwardOfDy(F::Winograd4), W::Winograd)),
            ("stage 2 conv1", p(F::DirectSmall, I::StridedPhases, W::Gemm)),
            ("stage 2 conv2", p(F::Winograd4, I::ForwardOfDy(F::Winograd4), W::Winograd)),
            ("stage 2 shortcut", p(F::Gemm, I::Gemm, W::Gemm)),
            ("stage 3 conv1", p(F::DirectSmall, I::Gemm, W::Gemm)),
            ("stage 3 conv2", p(F::Winograd, I::ForwardOfDy(F::Winograd), W::Winograd)),
            ("stage 3 shortcut", p(F::Gemm, I::Gemm, W::Gemm)),
            ("stage 4 conv1", p(F::DirectSmall, I::Gemm, W::Gemm)),
            ("stage 4 conv2", p(F::DirectSmall, I::ForwardOfDy(F::DirectSmall), W::Gemm)),
            ("stage 4 shortcut", p(F::Gemm, I::Gemm, W::Gemm)),
        ];
        let expect = |rows: &[(&str, String)]| rows.iter().map(|(n, p)| format!("{n}: {p}")).collect::<Vec<_>>();
        assert_eq!(listing(64, &[16, 32, 64], AVX512), expect(&small_avx512));
        assert_eq!(listing(32, &[64, 128, 256, 512], AVX512), expect(&resnet18_avx512));
        // Without AVX-512 every direct kernel falls back to im2col + GEMM; Winograd stays.
        let fallback = |rows: &[(&str, String)]| {
            rows.iter()
                .map(|(n, p)| {
                    format!("{n}: {}", p.replace("DirectSmall", "Gemm").replace("Direct", "Gemm").replace("StridedPhases", "Gemm"))
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(listing(64, &[16, 32, 64], BASELINE), fallback(&small_avx512));
        assert_eq!(listing(32, &[64, 128, 256, 512], BASELINE), fallback(&resnet18_avx512));
        // In WebAssembly the small encoder's stride-1 3x3 layers take F(4x4, 3x3) forward
        // and for the input gradient, F(2x2, 3x3) for the weight gradient; the stem (3
        // channels) and the strided layers keep the GEMM.
        let w4 = || p(F::Winograd4, I::ForwardOfDy(F::Winograd4), W::Winograd);
        let gemm = || p(F::Gemm, I::Gemm, W::Gemm);
        let small_wasm = [
            ("stem", p(F::Gemm, I::ForwardOfDy(F::Gemm), W::Gemm)),
            ("stage 1 conv1", w4()),
            ("stage 1 conv2", w4()),
            ("stage 2 conv1", gemm()),
            ("stage 2 conv2", w4()),
            ("stage 2 shortcut", gemm()),
            ("stage 3 conv1", gemm()),
            ("stage 3 conv2", w4()),
            ("stage 3 shortcut", gemm()),
        ];
        assert_eq!(listing(64, &[16, 32, 64], WASM), expect(&small_wasm));
    }

    #[test]
    fn the_cmc_stems_and_odd_shapes_fall_back_to_the_gemm() {
        // CMC's 1- and 2-channel stems are 3x3 stride 1 on 32 x 32 (the direct kernel with
        // AVX-512); a 5x5 kernel, stride 3 or a 1x1 stride-1 layer only the GEMM computes.
        for cin in [1, 2] {
            assert_eq!(forward(&conv(8, cin, 16, 32, 3, 1), AVX512), Forward::Direct);
            assert_eq!(forward(&conv(8, cin, 16, 32, 3, 1), BASELINE), Forward::Gemm);
        }
        for g in [conv(2, 8, 8, 9, 5, 1), conv(2, 8, 8, 9, 3, 3), conv(2, 8, 8, 9, 1, 1)] {
            assert_eq!(plan(&g, AVX512).forward, Forward::Gemm, "{g:?}");
            assert_eq!(plan(&g, AVX512).weight_grad, WeightGrad::Gemm, "{g:?}");
        }
        assert_eq!(input_grad(&conv(2, 8, 8, 9, 1, 1), AVX512), InputGrad::Gemm);
    }

    #[test]
    fn a_stride_1_input_gradient_is_the_forward_pass_of_its_transpose() {
        let g = ConvGeometry { batch: 2, cin: 3, cout: 5, height: 7, width: 6, kernel: 3, stride: 1, pad: 0 };
        let t = transposed(&g).expect("stride 1, p < k");
        assert_eq!((t.cin, t.cout, t.height, t.width, t.pad), (5, 3, 5, 4, 2));
        assert_eq!((t.out_height(), t.out_width()), (g.height, g.width));
        assert!(transposed(&ConvGeometry { stride: 2, ..g }).is_none());
        assert!(transposed(&ConvGeometry { pad: 3, ..g }).is_none());
    }
}
