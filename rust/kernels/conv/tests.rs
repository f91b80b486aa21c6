//! Both algorithms against the textbook seven-loop convolution, on random geometries.

use rand::{Rng, SeedableRng};

use super::pad::{pad2d, pad2d_backward, Pad2dParams, PadMode};
use super::*;

/// Forward and all three gradients by the definition, in f64.
struct Naive {
    out: Vec<f64>,
    dx: Vec<f64>,
    dw: Vec<f64>,
    db: Vec<f64>,
}

#[allow(clippy::needless_range_loop)] // index loops mirror the definition
fn naive(p: &Conv2dParams, x: &[f64], w: &[f64], b: &[f64], g: &[f64]) -> Naive {
    let (oh_n, ow_n) = p.out_dims();
    let (kh_n, kw_n) = p.kernel;
    let (cin_g, cout_g) = (p.cin_g(), p.cout_g());
    let mut r = Naive {
        out: vec![0.0; p.output_shape().iter().product()],
        dx: vec![0.0; x.len()],
        dw: vec![0.0; w.len()],
        db: vec![0.0; p.out_channels],
    };
    for n in 0..p.batch {
        for co in 0..p.out_channels {
            let grp = co / cout_g;
            for oh in 0..oh_n {
                for ow in 0..ow_n {
                    let oi = ((n * p.out_channels + co) * oh_n + oh) * ow_n + ow;
                    let mut s = b[co];
                    r.db[co] += g[oi];
                    for ci in 0..cin_g {
                        let c = grp * cin_g + ci;
                        for kh in 0..kh_n {
                            for kw in 0..kw_n {
                                let ih = (oh * p.stride.0 + kh * p.dilation.0) as isize
                                    - p.padding[0] as isize;
                                let iw = (ow * p.stride.1 + kw * p.dilation.1) as isize
                                    - p.padding[2] as isize;
                                if ih < 0
                                    || iw < 0
                                    || ih >= p.in_h as isize
                                    || iw >= p.in_w as isize
                                {
                                    continue;
                                }
                                let xi = ((n * p.in_channels + c) * p.in_h + ih as usize) * p.in_w
                                    + iw as usize;
                                let wi = ((co * cin_g + ci) * kh_n + kh) * kw_n + kw;
                                s += w[wi] * x[xi];
                                r.dx[xi] += w[wi] * g[oi];
                                r.dw[wi] += x[xi] * g[oi];
                            }
                        }
                    }
                    r.out[oi] = s;
                }
            }
        }
    }
    r
}

fn random(rng: &mut impl Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect()
}

fn close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Which {
    Chosen,
    Gemm,
    Shifted,
    Direct,
    Depthwise,
}

fn run_case(p: &Conv2dParams, which: Which, rng: &mut impl Rng) {
    let x = random(rng, p.input_shape().iter().product());
    let w = random(rng, p.weight_shape().iter().product());
    let b = random(rng, p.out_channels);
    let g = random(rng, p.output_shape().iter().product());
    let want = naive(p, &x, &w, &b, &g);
    let mut out = vec![f64::NAN; want.out.len()];
    let mut dx = vec![f64::NAN; x.len()];
    let mut dw = vec![f64::NAN; w.len()];
    let mut db = vec![f64::NAN; b.len()];
    let grads = Conv2dGrads {
        input: Some(&mut dx[..]),
        weight: Some(&mut dw[..]),
        bias: Some(&mut db[..]),
    };
    match which {
        Which::Chosen => {
            conv2d_forward(p, &x, &w, Some(&b), &mut out).unwrap();
            conv2d_backward(p, &x, &w, &g, grads).unwrap();
        }
        Which::Gemm => {
            gemm_path::forward(p, &x, &w, Some(&b), &mut out).unwrap();
            gemm_path::backward(p, &x, &w, &g, grads).unwrap();
        }
        Which::Shifted => {
            shifted::forward(p, &x, &w, Some(&b), &mut out).unwrap();
            shifted::backward(p, &x, &w, &g, grads).unwrap();
        }
        Which::Depthwise => {
            depthwise::forward(p, &x, &w, Some(&b), &mut out);
            depthwise::backward(p, &x, &w, &g, grads);
        }
        Which::Direct => {
            direct::forward(p, &x, &w, Some(&b), &mut out);
            direct::backward(p, &x, &w, &g, grads);
        }
    }
    let what = format!("{p:?}");
    close(&out, &want.out, 1e-10, &format!("out {what}"));
    close(&dx, &want.dx, 1e-10, &format!("dx {what}"));
    close(&dw, &want.dw, 1e-10, &format!("dw {what}"));
    close(&db, &want.db, 1e-10, &format!("db {what}"));
}

const ALL: [Which; 5] = [
    Which::Chosen,
    Which::Gemm,
    Which::Shifted,
    Which::Direct,
    Which::Depthwise,
];

/// Whether an algorithm handles this geometry (the general ones handle all).
fn applies(which: Which, p: &Conv2dParams) -> bool {
    match which {
        Which::Shifted => shifted::applies(p),
        Which::Depthwise => depthwise::applies(p),
        _ => true,
    }
}

fn params(
    input: [usize; 4],
    weight: [usize; 4],
    stride: usize,
    pad: usize,
    dil: usize,
    groups: usize,
) -> Conv2dParams {
    Conv2dParams::new(
        input,
        weight,
        [stride as i64; 2],
        [pad as i64; 4],
        [dil as i64; 2],
        groups as i64,
    )
    .unwrap()
}

#[test]
fn fixed_cases_both_algorithms() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let cases = [
        params([2, 3, 7, 6], [4, 3, 3, 3], 1, 1, 1, 1),
        params([1, 1, 28, 28], [6, 1, 5, 5], 1, 0, 1, 1),
        params([3, 6, 12, 12], [16, 6, 5, 5], 1, 0, 1, 1),
        params([2, 5, 9, 9], [7, 5, 1, 1], 1, 0, 1, 1),
        params([2, 4, 9, 9], [6, 2, 3, 3], 2, 1, 2, 2),
        params([2, 6, 8, 8], [6, 1, 3, 3], 1, 1, 1, 6),
        params([1, 4, 5, 5], [8, 1, 3, 3], 2, 2, 1, 4),
        params([2, 3, 10, 7], [5, 3, 2, 4], 3, 0, 1, 1),
        params([1, 2, 4, 4], [3, 2, 1, 1], 2, 1, 1, 1),
        // Eight filters (per group): one f64 vector, so the weight gradient is summed as dW^T.
        params([3, 5, 9, 8], [8, 5, 3, 3], 1, 1, 1, 1),
        params([2, 6, 7, 7], [16, 3, 3, 2], 1, 0, 2, 2),
        // 40 f64 filters: too many for the weight gradient summed transposed (WeightGrad).
        params([2, 3, 9, 9], [40, 3, 3, 3], 2, 1, 1, 1),
        params([2, 3, 9, 9], [40, 3, 3, 3], 1, 1, 1, 1),
    ];
    for p in &cases {
        for which in ALL {
            if applies(which, p) {
                run_case(p, which, &mut rng);
            }
        }
    }
}

#[test]
fn random_geometries_both_algorithms() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let mut done = 0;
    while done < 150 {
        let groups = [1, 1, 2, 3][rng.random_range(0..4)];
        let cin = groups * rng.random_range(1..4);
        let cout = groups * rng.random_range(1..4);
        let kh = rng.random_range(1..5);
        let kw = rng.random_range(1..5);
        let h = rng.random_range(1..11);
        let w = rng.random_range(1..11);
        let pads = [0, 1, 2, 3].map(|_| rng.random_range(0..3) as i64);
        let stride = [rng.random_range(1..4), rng.random_range(1..4)];
        let dil = [rng.random_range(1..3), rng.random_range(1..3)];
        let Ok(p) = Conv2dParams::new(
            [rng.random_range(1..4), cin, h, w],
            [cout, cin / groups, kh, kw],
            stride,
            pads,
            dil,
            groups as i64,
        ) else {
            continue;
        };
        for which in ALL {
            if which != Which::Chosen && applies(which, &p) {
                run_case(&p, which, &mut rng);
            }
        }
        done += 1;
    }
}

/// Strided convolutions on images wide enough for output rows of 8 and more, where the
/// lowering and its adjoint go through phase planes (the random geometries above have rows
/// of at most 7): every stride phase, padding on either side and dilation.
#[test]
fn strided_wide_images() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut done = 0;
    while done < 40 {
        let (kh, kw) = (rng.random_range(1..6), rng.random_range(1..6));
        let pads = [0, 1, 2, 3].map(|_| rng.random_range(0..4) as i64);
        let stride = [rng.random_range(1..5), rng.random_range(2..5)];
        let Ok(p) = Conv2dParams::new(
            [
                rng.random_range(1..3),
                2,
                rng.random_range(8..30),
                rng.random_range(16..45),
            ],
            [3, 2, kh, kw],
            stride,
            pads,
            [rng.random_range(1..3), rng.random_range(1..3)],
            1,
        ) else {
            continue;
        };
        if p.out_dims().1 < 8 {
            continue;
        }
        run_case(&p, Which::Gemm, &mut rng);
        done += 1;
    }
}

#[test]
fn random_depthwise_geometries() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut done = 0;
    while done < 60 {
        let c = rng.random_range(1..5);
        let pads = [0, 1, 2, 3].map(|_| rng.random_range(0..3) as i64);
        let Ok(p) = Conv2dParams::new(
            [
                rng.random_range(1..3),
                c,
                rng.random_range(1..10),
                rng.random_range(1..10),
            ],
            [c, 1, rng.random_range(1..6), rng.random_range(1..6)],
            [1, 1],
            pads,
            [rng.random_range(1..3), rng.random_range(1..3)],
            c as i64,
        ) else {
            continue;
        };
        for which in [Which::Chosen, Which::Depthwise, Which::Direct] {
            run_case(&p, which, &mut rng);
        }
        done += 1;
    }
}

#[test]
fn big_enough_to_tile_and_thread() {
    // More output rows than one column tile holds, and enough work to use the pool.
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let p = params([3, 24, 40, 33], [10, 24, 3, 3], 1, 1, 1, 1);
    assert!(gemm_path_tile_rows_f64(&p) < 40);
    run_case(&p, Which::Gemm, &mut rng);
    run_case(&p, Which::Shifted, &mut rng);
    let p = params([3, 64, 20, 20], [16, 64, 1, 1], 1, 0, 1, 1);
    run_case(&p, Which::Gemm, &mut rng);
}

#[test]
fn many_channels_read_taps_in_place() {
    // Enough channels per group for the per-tap GEMMs: padded (unevenly), dilated, grouped,
    // several tiles of rows, and batches that split unevenly across threads.
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let uneven = Conv2dParams::new(
        [3, 64, 9, 7],
        [5, 64, 3, 2],
        [1, 1],
        [2, 0, 1, 3],
        [2, 1],
        1,
    );
    for p in [
        params([2, 64, 8, 8], [8, 64, 3, 3], 1, 1, 1, 1),
        params([1, 128, 6, 5], [6, 64, 3, 3], 1, 1, 1, 2),
        uneven.unwrap(),
        params([1, 64, 70, 8], [64, 64, 3, 3], 1, 1, 1, 1),
    ] {
        let (tiles, taps) = shifted::tiling::<f64>(&p);
        assert!(taps, "{:?} should read taps in place", p.input_shape());
        run_case(&p, Which::Shifted, &mut rng);
        run_case(&p, Which::Chosen, &mut rng);
        if p.in_h == 70 {
            assert!(tiles > 1, "the tall image should take several tiles");
        }
    }
    // Too few channels: lowered as before.
    assert!(!shifted::tiling::<f64>(&params([1, 16, 8, 8], [8, 16, 3, 3], 1, 1, 1, 1)).1);
}

#[test]
fn winograd_matches_the_direct_sums() {
    // Forward, input and weight gradients by F(4x4, 3x3) against the naive sums: odd and even sizes
    // (partial tiles at the bottom and right), every padding from 0 to 2 per side, images
    // smaller than a tile, channels that are not multiples of the SIMD width.
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let geometries = [
        ([3, 33, 7, 9], [65, 33, 3, 3], [1, 1, 1, 1]),
        ([2, 40, 6, 5], [70, 40, 3, 3], [0, 2, 2, 0]),
        ([2, 64, 3, 3], [64, 64, 3, 3], [0, 0, 0, 0]),
        ([4, 65, 1, 2], [33, 65, 3, 3], [2, 2, 1, 2]),
        ([2, 64, 12, 11], [64, 64, 3, 3], [1, 2, 0, 1]),
        // Small images grouped several to a task, the last group short.
        ([7, 32, 8, 8], [64, 32, 3, 3], [1, 1, 1, 1]),
        // Wide enough for F(4x4, 3x3): partial tiles, a short last run of tiles (10 across),
        // uneven padding, and a 29-wide output (the narrowest that takes it).
        ([2, 32, 9, 37], [64, 32, 3, 3], [0, 2, 2, 0]),
        ([3, 64, 5, 33], [33, 64, 3, 3], [2, 1, 0, 1]),
        ([1, 64, 6, 29], [64, 64, 3, 3], [1, 1, 1, 1]),
        // One image in several blocks of tile rows (the last one partial), split between
        // threads.
        ([1, 64, 70, 30], [64, 64, 3, 3], [1, 1, 1, 1]),
    ];
    for (input, weight, pad) in geometries {
        let p = Conv2dParams::new(input, weight, [1, 1], pad, [1, 1], 1).unwrap();
        if input[0] == 1 && input[2] > 60 {
            assert!(winograd::blocks_per_image::<f64>(&p) > 2);
        }
        let wide = p.out_dims().1 >= 29;
        assert_eq!(
            winograd::tile_of_forward(&p),
            if wide { 4 } else { 2 },
            "{p:?}"
        );
        let x = random(&mut rng, p.input_shape().iter().product());
        let w = random(&mut rng, p.weight_shape().iter().product());
        let b = random(&mut rng, p.out_channels);
        let g = random(&mut rng, p.output_shape().iter().product());
        let want = naive(&p, &x, &w, &b, &g);
        let mut out = vec![f64::NAN; want.out.len()];
        let mut dx = vec![f64::NAN; x.len()];
        let mut dw = vec![f64::NAN; w.len()];
        winograd::forward(&p, &x, &w, Some(&b), &mut out);
        winograd::input_grad(&p, &w, &g, &mut dx);
        winograd::weight_grad(&p, &x, &g, &mut dw);
        close(&out, &want.out, 1e-10, &format!("winograd out {p:?}"));
        close(&dx, &want.dx, 1e-10, &format!("winograd dx {p:?}"));
        close(&dw, &want.dw, 1e-10, &format!("winograd dw {p:?}"));
        // And through the dispatcher, which picks it wherever it applies.
        run_case(&p, Which::Chosen, &mut rng);
    }
    // A NaN and an infinity reach exactly the outputs (and gradients) whose windows hold
    // them, as in the direct sums: the dispatcher takes the exact path for non-finite data.
    let p = params([2, 64, 6, 7], [64, 64, 3, 3], 1, 1, 1, 1);
    assert!(winograd::applies(&p));
    let mut x = random(&mut rng, p.input_shape().iter().product());
    let w = random(&mut rng, p.weight_shape().iter().product());
    let g = random(&mut rng, p.output_shape().iter().product());
    x[3 * 7 + 4] = f64::NAN;
    x[42 * 7 + 1] = f64::INFINITY;
    let want = naive(&p, &x, &w, &[0.0; 64], &g);
    let mut out = vec![0.0; want.out.len()];
    conv2d_forward(&p, &x, &w, None, &mut out).unwrap();
    for (i, (&got, &exp)) in out.iter().zip(&want.out).enumerate() {
        assert!(
            got.is_nan() == exp.is_nan() && (got.is_finite() == exp.is_finite()),
            "output {i}: {got} but the direct sum gives {exp}"
        );
    }
    assert!(winograd::all_finite(&w) && !winograd::all_finite(&x));
    assert!(!winograd::all_finite(&[1.0f32, f32::NEG_INFINITY]));
    assert!(winograd::all_finite::<f32>(&[]));
    // At least 64 channels on each side on narrow outputs (F(2x2)), 32 on outputs at least 29
    // wide (F(4x4)), either way round, any batch.
    for p in [
        params([2, 64, 8, 8], [64, 64, 3, 3], 1, 1, 1, 1),
        params([1, 64, 8, 8], [128, 64, 3, 3], 1, 1, 1, 1),
        params([2, 32, 8, 32], [32, 32, 3, 3], 1, 1, 1, 1),
        params([2, 64, 8, 31], [32, 64, 3, 3], 1, 0, 1, 1),
    ] {
        assert!(winograd::applies(&p), "{p:?}");
    }
    // Too few channels for the width, or not a 3x3 unit-stride kernel without groups.
    for p in [
        params([2, 32, 8, 8], [64, 32, 3, 3], 1, 1, 1, 1),
        params([2, 64, 8, 30], [32, 64, 3, 3], 1, 0, 1, 1),
        params([2, 16, 8, 40], [128, 16, 3, 3], 1, 1, 1, 1),
        params([2, 64, 8, 8], [64, 64, 3, 3], 2, 1, 1, 1),
        params([2, 64, 8, 8], [64, 64, 3, 3], 1, 1, 2, 1),
        params([2, 64, 8, 8], [64, 32, 3, 3], 1, 1, 1, 2),
        params([2, 64, 8, 8], [64, 64, 5, 5], 1, 2, 1, 1),
        params([2, 64, 8, 8], [64, 64, 3, 3], 1, 3, 1, 1),
    ] {
        assert!(!winograd::applies(&p), "{p:?}");
    }
}

#[test]
fn odd_batches_of_small_images() {
    // LeNet-sized images in batches that do not divide into the threads' runs of images;
    // padded, grouped and dilated too.
    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    for p in [
        params([13, 6, 12, 12], [16, 6, 5, 5], 1, 0, 1, 1),
        params([11, 1, 28, 28], [6, 1, 5, 5], 1, 0, 1, 1),
        params([9, 4, 7, 9], [6, 2, 3, 3], 1, 2, 2, 2),
        params([7, 3, 5, 5], [4, 3, 3, 3], 1, 1, 1, 1),
    ] {
        run_case(&p, Which::Shifted, &mut rng);
        run_case(&p, Which::Chosen, &mut rng);
    }
}

fn gemm_path_tile_rows_f64(p: &Conv2dParams) -> usize {
    let (_, ow) = p.out_dims();
    (gemm_path::COL_TILE_BYTES / (p.col_rows() * ow * 8)).clamp(1, p.out_dims().0)
}

#[test]
fn f32_matches_f64() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    for p in [
        params([4, 8, 13, 13], [12, 8, 3, 3], 1, 1, 1, 1),
        params([4, 8, 13, 13], [8, 1, 3, 3], 1, 1, 1, 8),
    ] {
        let x = random(&mut rng, p.input_shape().iter().product());
        let w = random(&mut rng, p.weight_shape().iter().product());
        let zeros = vec![0.0; p.output_shape().iter().product()];
        let want = naive(&p, &x, &w, &vec![0.0; p.out_channels], &zeros).out;
        let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let wf: Vec<f32> = w.iter().map(|&v| v as f32).collect();
        let mut out = vec![0.0f32; want.len()];
        conv2d_forward(&p, &xf, &wf, None, &mut out).unwrap();
        let got: Vec<f64> = out.iter().map(|&v| v as f64).collect();
        close(&got, &want, 1e-5, "f32 forward");
    }
}

#[test]
fn backward_subsets_and_empty_batch() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let p = params([2, 3, 6, 6], [4, 3, 3, 3], 1, 1, 1, 1);
    let x = random(&mut rng, p.input_shape().iter().product());
    let w = random(&mut rng, p.weight_shape().iter().product());
    let g = random(&mut rng, p.output_shape().iter().product());
    let want = naive(&p, &x, &w, &[0.0; 4], &g);
    let mut dw = vec![0.0; w.len()];
    let grads = Conv2dGrads {
        input: None,
        weight: Some(&mut dw[..]),
        bias: None,
    };
    conv2d_backward(&p, &x, &w, &g, grads).unwrap();
    close(&dw, &want.dw, 1e-10, "dw alone");

    let p = params([0, 3, 6, 6], [4, 3, 3, 3], 1, 1, 1, 1);
    let mut dw = vec![1.0; w.len()];
    let mut db = vec![1.0; 4];
    let grads = Conv2dGrads {
        input: Some(&mut [][..]),
        weight: Some(&mut dw[..]),
        bias: Some(&mut db[..]),
    };
    conv2d_backward(&p, &[], &w, &[], grads).unwrap();
    assert!(dw.iter().chain(&db).all(|&v| v == 0.0));
    conv2d_forward(&p, &[], &w, None, &mut []).unwrap();
}

#[test]
fn errors_name_the_shapes() {
    let e = Conv2dParams::new([2, 3, 32, 32], [8, 4, 3, 3], [1, 1], [0; 4], [1, 1], 1).unwrap_err();
    assert_eq!(
        e,
        "conv2d: input (2, 3, 32, 32) has 3 channels but weight (8, 4, 3, 3) expects 4"
    );
    let e = Conv2dParams::new([1, 1, 4, 4], [1, 1, 7, 7], [1, 1], [1; 4], [1, 1], 1).unwrap_err();
    assert!(e.contains("kernel (7, 7)") && e.contains("(6, 6)"), "{e}");
    let e = Conv2dParams::new([1, 1, 4, 4], [1, 1, 3, 3], [0, 1], [0; 4], [1, 1], 1).unwrap_err();
    assert!(e.contains("stride must be positive, got (0, 1)"), "{e}");
    let e = Conv2dParams::new([1, 1, 4, 4], [1, 1, 3, 3], [1, 1], [0; 4], [1, -1], 1).unwrap_err();
    assert!(e.contains("dilation"), "{e}");
    let e = Conv2dParams::new([1, 4, 4, 4], [2, 2, 3, 3], [1, 1], [0; 4], [1, 1], 3).unwrap_err();
    assert!(e.contains("groups=3"), "{e}");
    let e = Conv2dParams::new([1, 4, 4, 4], [2, 2, 3, 3], [1, 1], [-1, 0, 0, 0], [1, 1], 1)
        .unwrap_err();
    assert!(e.contains("non-negative"), "{e}");
    let e = Conv2dParams::new([1, 2, 0, 4], [2, 2, 1, 1], [1, 1], [0; 4], [1, 1], 1).unwrap_err();
    assert!(e.contains("empty"), "{e}");
    let p = params([1, 1, 4, 4], [1, 1, 3, 3], 1, 0, 1, 1);
    let e = conv2d_forward(&p, &[0.0f32; 15], &[0.0; 9], None, &mut [0.0; 4]).unwrap_err();
    assert!(e.contains("input has 15 elements"), "{e}");
}

fn naive_pad(p: &Pad2dParams, x: &[f64]) -> Vec<f64> {
    let (oh, ow) = p.out_dims();
    let mut out = Vec::new();
    let src = |i: isize, n: usize| -> Option<usize> {
        let n = n as isize;
        match p.mode {
            PadMode::Constant(_) => (0..n).contains(&i).then_some(i as usize),
            PadMode::Reflect => Some(if i < 0 {
                -i
            } else if i >= n {
                2 * n - 2 - i
            } else {
                i
            } as usize),
            PadMode::Replicate => Some(i.clamp(0, n - 1) as usize),
            PadMode::Circular => Some(((i % n + n) % n) as usize),
        }
    };
    let fill = match p.mode {
        PadMode::Constant(v) => v,
        _ => 0.0,
    };
    for pl in 0..p.planes {
        for i in 0..oh {
            for j in 0..ow {
                let r = src(i as isize - p.pads[0] as isize, p.in_h);
                let c = src(j as isize - p.pads[2] as isize, p.in_w);
                out.push(match (r, c) {
                    (Some(r), Some(c)) => x[(pl * p.in_h + r) * p.in_w + c],
                    _ => fill,
                });
            }
        }
    }
    out
}

#[test]
fn padding_modes_and_their_adjoint() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    for mode in [
        PadMode::Constant(0.5),
        PadMode::Reflect,
        PadMode::Replicate,
        PadMode::Circular,
    ] {
        for _ in 0..30 {
            let shape = [
                2,
                rng.random_range(1..3),
                rng.random_range(1..6),
                rng.random_range(1..6),
            ];
            let pads = [0, 1, 2, 3].map(|_| rng.random_range(0..4) as i64);
            let Ok(p) = Pad2dParams::new(&shape, pads, mode) else {
                continue;
            };
            let x = random(&mut rng, shape.iter().product());
            let want = naive_pad(&p, &x);
            let mut out = vec![f64::NAN; want.len()];
            pad2d(&p, &x, &mut out).unwrap();
            close(&out, &want, 0.0, "pad");
            // The backward is the adjoint of the linear part: <pad0(x), g> == <x, pad^T(g)>,
            // where pad0 pads with zeros instead of the fill value.
            let linear = Pad2dParams {
                mode: match mode {
                    PadMode::Constant(_) => PadMode::Constant(0.0),
                    m => m,
                },
                ..p
            };
            let g = random(&mut rng, want.len());
            let mut dx = vec![f64::NAN; x.len()];
            pad2d_backward(&p, &g, &mut dx).unwrap();
            let lhs: f64 = naive_pad(&linear, &x)
                .iter()
                .zip(&g)
                .map(|(a, b)| a * b)
                .sum();
            let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "{mode:?} {p:?}");
        }
    }
    let e = Pad2dParams::new(&[1, 1, 3, 3], [3, 0, 0, 0], PadMode::Reflect).unwrap_err();
    assert!(
        e.contains("reflect padding (3, 0)") && e.contains("(1, 1, 3, 3)"),
        "{e}"
    );
}

#[test]
fn huge_padding_and_dilation_are_errors_not_wrapped() {
    let max = i64::MAX;
    let err = Conv2dParams::new(
        [1, 1, 8, 8],
        [1, 1, 3, 3],
        [1, 1],
        [max, max, 0, 0],
        [1, 1],
        1,
    )
    .unwrap_err();
    assert!(err.contains("too large"), "{err}");
    let err =
        Conv2dParams::new([1, 1, 8, 8], [1, 1, 5, 5], [1, 1], [0; 4], [1 << 62, 1], 1).unwrap_err();
    assert!(err.contains("too large"), "{err}");
    let err =
        Pad2dParams::new(&[1, 1, 8, 8], [max, max, 0, 0], PadMode::Constant(0.0)).unwrap_err();
    assert!(err.contains("too large"), "{err}");
}
