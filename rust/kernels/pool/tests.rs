//! Every kernel against PyTorch's CPU loops transcribed naively, on random geometries with
//! ties, negative values and NaN.

use super::*;
use rand::{Rng, SeedableRng};

/// PyTorch's CPU loops, transcribed: window start, skip leading padding by whole
/// dilation steps, clip at the input end.
fn naive_extremum(p: &Pool2dParams, max: bool, x: &[f64]) -> (Vec<f64>, Vec<i64>) {
    let (oh, ow) = p.out_dims();
    let (mut out, mut idx) = (Vec::new(), Vec::new());
    for plane in 0..p.batch * p.channels {
        let xp = &x[plane * p.in_h * p.in_w..];
        for r in 0..oh {
            for c in 0..ow {
                let mut hs = (r * p.stride.0) as i64 - p.padding.0 as i64;
                let mut ws = (c * p.stride.1) as i64 - p.padding.1 as i64;
                let he = (hs + ((p.kernel.0 - 1) * p.dilation.0) as i64 + 1).min(p.in_h as i64);
                let we = (ws + ((p.kernel.1 - 1) * p.dilation.1) as i64 + 1).min(p.in_w as i64);
                while hs < 0 {
                    hs += p.dilation.0 as i64;
                }
                while ws < 0 {
                    ws += p.dilation.1 as i64;
                }
                let mut m = if max {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                };
                let mut at = -1i64;
                let mut ih = hs;
                while ih < he {
                    let mut iw = ws;
                    while iw < we {
                        let i = ih * p.in_w as i64 + iw;
                        let v = xp[i as usize];
                        if at < 0 {
                            at = i;
                        }
                        if (if max { v > m } else { v < m }) || v.is_nan() {
                            m = v;
                            at = i;
                        }
                        iw += p.dilation.1 as i64;
                    }
                    ih += p.dilation.0 as i64;
                }
                out.push(m);
                idx.push(at);
            }
        }
    }
    (out, idx)
}

fn naive_avg(p: &Pool2dParams, include_pad: bool, x: &[f64]) -> Vec<f64> {
    let (oh, ow) = p.out_dims();
    let mut out = Vec::new();
    for plane in 0..p.batch * p.channels {
        let xp = &x[plane * p.in_h * p.in_w..];
        for r in 0..oh {
            for c in 0..ow {
                let h0 = (r * p.stride.0) as i64 - p.padding.0 as i64;
                let w0 = (c * p.stride.1) as i64 - p.padding.1 as i64;
                let h1 = (h0 + p.kernel.0 as i64).min((p.in_h + p.padding.0) as i64);
                let w1 = (w0 + p.kernel.1 as i64).min((p.in_w + p.padding.1) as i64);
                let pool = (h1 - h0) * (w1 - w0);
                let (h0, w0) = (h0.max(0), w0.max(0));
                let (h1, w1) = (h1.min(p.in_h as i64), w1.min(p.in_w as i64));
                if h0 >= h1 || w0 >= w1 {
                    out.push(0.0);
                    continue;
                }
                let mut s = 0.0;
                for ih in h0..h1 {
                    for iw in w0..w1 {
                        s += xp[(ih * p.in_w as i64 + iw) as usize];
                    }
                }
                let div = if include_pad {
                    pool
                } else {
                    (h1 - h0) * (w1 - w0)
                };
                out.push(s / div as f64);
            }
        }
    }
    out
}

fn random_params(rng: &mut impl Rng, op: &'static str, dilated: bool) -> Option<Pool2dParams> {
    let k = [rng.random_range(1..5), rng.random_range(1..5)];
    let s = [rng.random_range(1..4), rng.random_range(1..4)];
    let pd = [rng.random_range(0..3), rng.random_range(0..3)];
    let d = if dilated {
        [rng.random_range(1..3), rng.random_range(1..3)]
    } else {
        [1, 1]
    };
    let shape = [
        rng.random_range(1..3),
        rng.random_range(1..4),
        rng.random_range(1..10),
        rng.random_range(1..10),
    ];
    Pool2dParams::new(op, shape, k, s, pd, d, rng.random_bool(0.5)).ok()
}

/// Values from a small set, so windows often hold ties; all negative half the time.
fn tie_prone(rng: &mut impl Rng, n: usize) -> Vec<f64> {
    let shift = if rng.random_bool(0.5) { -10.0 } else { 0.0 };
    (0..n)
        .map(|_| rng.random_range(0..4) as f64 + shift)
        .collect()
}

fn check_extremum(p: &Pool2dParams, which: Extremum, x: &[f64], rng: &mut impl Rng) {
    let max = which == Extremum::Max;
    let (want, want_idx) = naive_extremum(p, max, x);
    let mut out = vec![0.0; want.len()];
    let mut idx = vec![0i64; want.len()];
    extremum_pool2d_forward(p, which, x, &mut out, Some(&mut idx)).unwrap();
    for (i, (g, w)) in out.iter().zip(&want).enumerate() {
        assert!(
            g == w || (g.is_nan() && w.is_nan()),
            "{p:?} out[{i}]: {g} vs {w}"
        );
    }
    assert_eq!(idx, want_idx, "{p:?}");
    let mut out2 = vec![0.0; want.len()];
    extremum_pool2d_forward::<f64, i32>(p, which, x, &mut out2, None).unwrap();
    assert!(out
        .iter()
        .zip(&out2)
        .all(|(a, b)| a == b || (a.is_nan() && b.is_nan())));
    // Backward routes each gradient to the recorded index.
    let g: Vec<f64> = (0..want.len()).map(|_| rng.random::<f64>()).collect();
    let mut dx = vec![f64::NAN; x.len()];
    let idx32: Vec<i32> = idx.iter().map(|&i| i as i32).collect();
    extremum_pool2d_backward(p, &g, &idx32, &mut dx).unwrap();
    let mut want_dx = vec![0.0; x.len()];
    let (oh, ow) = p.out_dims();
    for (o, (&gv, &i)) in g.iter().zip(&idx).enumerate() {
        if i >= 0 {
            want_dx[o / (oh * ow) * p.in_h * p.in_w + i as usize] += gv;
        }
    }
    for (a, b) in dx.iter().zip(&want_dx) {
        assert!((a - b).abs() < 1e-12, "{p:?}");
    }
    if p.is_2x2_tiling() {
        check_codes(p, which, x, &want, &want_idx, &g, &want_dx);
    }
}

/// The 2x2 pick codes name the same element as the flat index, and their backward (into a
/// buffer of NaN, so an unwritten cell shows) gives the same gradient.
fn check_codes(
    p: &Pool2dParams,
    which: Extremum,
    x: &[f64],
    want: &[f64],
    want_idx: &[i64],
    g: &[f64],
    want_dx: &[f64],
) {
    let mut out = vec![0.0; want.len()];
    let mut codes = vec![9u8; want.len()];
    extremum_pool2d_forward_2x2(p, which, x, &mut out, &mut codes).unwrap();
    assert!(out
        .iter()
        .zip(want)
        .all(|(a, b)| a == b || (a.is_nan() && b.is_nan())));
    let (oh, ow) = p.out_dims();
    for (o, (&k, &i)) in codes.iter().zip(want_idx).enumerate() {
        let (r, c) = (o / ow % oh, o % ow);
        let flat = (2 * r + k as usize / 2) * p.in_w + 2 * c + k as usize % 2;
        assert_eq!(flat as i64, i, "{p:?} window {o}: code {k}");
    }
    let mut dx = vec![f64::NAN; x.len()];
    extremum_pool2d_backward_2x2(p, g, &codes, &mut dx).unwrap();
    assert_eq!(dx, want_dx, "{p:?}");
}

#[test]
fn max_and_min_match_pytorch_loops() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut done = 0;
    while done < 300 {
        // Every fourth case is 2x2 with stride 2 (the fast path's shape) but maybe dilated.
        let p = if done % 4 == 0 {
            let d = rng.random_range(1..3);
            let shape = [2, 2, rng.random_range(2..9), rng.random_range(2..9)];
            Pool2dParams::new("max_pool2d", shape, [2, 2], [2, 2], [0, 0], [d, d], false).ok()
        } else {
            random_params(&mut rng, "max_pool2d", true)
        };
        let Some(p) = p else {
            continue;
        };
        let mut x = tie_prone(&mut rng, p.input_shape().iter().product());
        if rng.random_bool(0.2) {
            let i = rng.random_range(0..x.len());
            x[i] = f64::NAN;
        }
        for which in [Extremum::Max, Extremum::Min] {
            check_extremum(&p, which, &x, &mut rng);
        }
        done += 1;
    }
}

#[test]
fn fast_2x2_path_matches() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    for shape in [[2, 3, 8, 8], [1, 2, 7, 9], [3, 1, 2, 2], [2, 5, 33, 17]] {
        for ceil in [false, true] {
            let p = Pool2dParams::new("max_pool2d", shape, [2, 2], [2, 2], [0, 0], [1, 1], ceil)
                .unwrap();
            let mut x = tie_prone(&mut rng, shape.iter().product());
            x[3] = f64::NAN;
            x[4] = f64::NAN;
            for which in [Extremum::Max, Extremum::Min] {
                check_extremum(&p, which, &x, &mut rng);
            }
        }
    }
}

#[test]
fn ties_pick_the_first_and_nan_wins() {
    let p = Pool2dParams::new(
        "max_pool2d",
        [1, 1, 2, 2],
        [2, 2],
        [2, 2],
        [0, 0],
        [1, 1],
        false,
    )
    .unwrap();
    let mut out = [0.0f32];
    let mut idx = [0i64];
    extremum_pool2d_forward(
        &p,
        Extremum::Max,
        &[1.0, 3.0, 3.0, 2.0],
        &mut out,
        Some(&mut idx),
    )
    .unwrap();
    assert_eq!((out[0], idx[0]), (3.0, 1));
    extremum_pool2d_forward(
        &p,
        Extremum::Min,
        &[-1.0, -3.0, -3.0, 2.0],
        &mut out,
        Some(&mut idx),
    )
    .unwrap();
    assert_eq!((out[0], idx[0]), (-3.0, 1));
    extremum_pool2d_forward(
        &p,
        Extremum::Max,
        &[1.0, f32::NAN, 3.0, 2.0],
        &mut out,
        Some(&mut idx),
    )
    .unwrap();
    assert!(out[0].is_nan() && idx[0] == 1);
}

#[test]
fn average_matches_pytorch_loops() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let mut done = 0;
    while done < 300 {
        let Some(p) = random_params(&mut rng, "avg_pool2d", false) else {
            continue;
        };
        let x: Vec<f64> = (0..p.input_shape().iter().product())
            .map(|_| rng.random::<f64>() - 0.5)
            .collect();
        for include_pad in [false, true] {
            let want = naive_avg(&p, include_pad, &x);
            let mut out = vec![0.0; want.len()];
            avg_pool2d_forward(&p, include_pad, None, &x, &mut out).unwrap();
            for (g, w) in out.iter().zip(&want) {
                assert!((g - w).abs() < 1e-12, "{p:?}");
            }
            // Backward is the adjoint: <avg(x), g> == <x, avg^T(g)>.
            let g: Vec<f64> = (0..want.len()).map(|_| rng.random::<f64>()).collect();
            let mut dx = vec![f64::NAN; x.len()];
            avg_pool2d_backward(&p, include_pad, None, &g, &mut dx).unwrap();
            let lhs: f64 = out.iter().zip(&g).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "{p:?}");
        }
        let mut out = vec![0.0; p.output_shape().iter().product()];
        avg_pool2d_forward(&p, true, Some(7), &x, &mut out).unwrap();
        done += 1;
    }
}

/// The naive adaptive max/min: each window scanned in row order, the first extremum kept
/// unless a later NaN replaces it.
fn naive_adaptive_extremum(p: &AdaptivePool2dParams, max: bool, x: &[f64]) -> (Vec<f64>, Vec<i64>) {
    let (oh, ow) = (p.out_h, p.out_w);
    let (mut out, mut idx) = (vec![], vec![]);
    for plane in 0..p.batch * p.channels {
        let xp = &x[plane * p.in_h * p.in_w..][..p.in_h * p.in_w];
        for r in 0..oh {
            for c in 0..ow {
                let (h0, h1) = (r * p.in_h / oh, ((r + 1) * p.in_h).div_ceil(oh));
                let (w0, w1) = (c * p.in_w / ow, ((c + 1) * p.in_w).div_ceil(ow));
                let mut best: Option<(f64, usize)> = None;
                for ih in h0..h1 {
                    for iw in w0..w1 {
                        let (v, i) = (xp[ih * p.in_w + iw], ih * p.in_w + iw);
                        let better = match best {
                            None => true,
                            Some((m, _)) => v.is_nan() || if max { v > m } else { v < m },
                        };
                        if better {
                            best = Some((v, i));
                        }
                    }
                }
                let (v, i) = best.unwrap();
                out.push(v);
                idx.push(i as i64);
            }
        }
    }
    (out, idx)
}

#[test]
fn adaptive_extremum() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(15);
    for case in 0..200 {
        let shape = [2, 3, rng.random_range(1..12), rng.random_range(1..12)];
        let size = [rng.random_range(1..14), rng.random_range(1..14)];
        let (which, max) = if case % 2 == 0 {
            (Extremum::Max, true)
        } else {
            (Extremum::Min, false)
        };
        let p = AdaptivePool2dParams::new("adaptive_max_pool2d", shape, size).unwrap();
        // Few distinct values, so ties are common, and a NaN now and then.
        let x: Vec<f64> = (0..shape.iter().product())
            .map(|_| match rng.random_range(0..40) {
                0 => f64::NAN,
                v => (v % 5) as f64,
            })
            .collect();
        let n_out = p.output_shape().iter().product();
        let (mut out, mut idx) = (vec![0.0; n_out], vec![0i64; n_out]);
        adaptive_extremum_pool2d_forward(&p, which, &x, &mut out, &mut idx).unwrap();
        let (want, want_idx) = naive_adaptive_extremum(&p, max, &x);
        assert_eq!(idx, want_idx, "case {case} shape {shape:?} size {size:?}");
        for (a, b) in out.iter().zip(&want) {
            assert!(
                a == b || (a.is_nan() && b.is_nan()),
                "case {case}: {a} vs {b}"
            );
        }
        // Backward: each output's gradient lands on its pick, summed where windows share one.
        let g: Vec<f64> = (0..n_out).map(|_| rng.random::<f64>()).collect();
        let mut dx = vec![f64::NAN; x.len()];
        adaptive_extremum_pool2d_backward(&p, &g, &idx, &mut dx).unwrap();
        let mut want_dx = vec![0.0; x.len()];
        let plane_in = p.in_h * p.in_w;
        for (o, (&gv, &i)) in g.iter().zip(&idx).enumerate() {
            want_dx[o / (p.out_h * p.out_w) * plane_in + i as usize] += gv;
        }
        for (a, b) in dx.iter().zip(&want_dx) {
            assert!((a - b).abs() < 1e-12, "case {case}: {a} vs {b}");
        }
    }
}

#[test]
fn adaptive_average() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    for _ in 0..100 {
        let shape = [2, 2, rng.random_range(1..12), rng.random_range(1..12)];
        let size = [rng.random_range(1..7), rng.random_range(1..7)];
        let p = AdaptivePool2dParams::new("adaptive_avg_pool2d", shape, size).unwrap();
        let x: Vec<f64> = (0..shape.iter().product())
            .map(|_| rng.random::<f64>())
            .collect();
        let mut out = vec![0.0; p.output_shape().iter().product()];
        adaptive_avg_pool2d_forward(&p, &x, &mut out).unwrap();
        let (oh, ow) = (size[0] as usize, size[1] as usize);
        for plane in 0..4 {
            for r in 0..oh {
                for c in 0..ow {
                    let (h0, h1) = (r * p.in_h / oh, ((r + 1) * p.in_h).div_ceil(oh));
                    let (w0, w1) = (c * p.in_w / ow, ((c + 1) * p.in_w).div_ceil(ow));
                    let mut s = 0.0;
                    for ih in h0..h1 {
                        for iw in w0..w1 {
                            s += x[(plane * p.in_h + ih) * p.in_w + iw];
                        }
                    }
                    let want = s / ((h1 - h0) * (w1 - w0)) as f64;
                    assert!((out[(plane * oh + r) * ow + c] - want).abs() < 1e-12);
                }
            }
        }
        let g: Vec<f64> = (0..out.len()).map(|_| rng.random::<f64>()).collect();
        let mut dx = vec![f64::NAN; x.len()];
        adaptive_avg_pool2d_backward(&p, &g, &mut dx).unwrap();
        let lhs: f64 = out.iter().zip(&g).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-9);
    }
}

#[test]
fn ceil_mode_output_sizes() {
    // PyTorch: 5 with k=2, s=2 gives 2 (floor) and 3 (ceil); 5 with k=2, s=2, pad=1, ceil
    // gives 3, not 4: the fourth window would start at 6 = size + pad, in the right padding.
    let size = |n: usize, k: i64, s: i64, pd: i64, ceil: bool| {
        Pool2dParams::new(
            "max_pool2d",
            [1, 1, n, n],
            [k, k],
            [s, s],
            [pd, pd],
            [1, 1],
            ceil,
        )
        .unwrap()
        .out_dims()
        .0
    };
    assert_eq!(size(5, 2, 2, 0, false), 2);
    assert_eq!(size(5, 2, 2, 0, true), 3);
    assert_eq!(size(5, 2, 2, 1, true), 3);
    assert_eq!(size(5, 2, 2, 1, false), 3);
    assert_eq!(size(6, 3, 2, 1, true), 4);
    assert_eq!(size(6, 3, 2, 1, false), 3);
}

#[test]
fn errors_name_the_problem() {
    let new = |k: [i64; 2], s: [i64; 2], pd: [i64; 2]| {
        Pool2dParams::new("max_pool2d", [1, 1, 4, 4], k, s, pd, [1, 1], false).unwrap_err()
    };
    assert!(new([0, 2], [1, 1], [0, 0]).contains("kernel_size must be positive, got (0, 2)"));
    assert!(new([2, 2], [0, 1], [0, 0]).contains("stride must be positive"));
    assert!(new([2, 2], [1, 1], [2, 0]).contains("at most half the kernel size"));
    let e = new([5, 5], [1, 1], [0, 0]);
    assert!(e.contains("does not fit in input (1, 1, 4, 4)"), "{e}");
    let p = Pool2dParams::new(
        "max_pool2d",
        [1, 1, 2, 2],
        [2, 2],
        [2, 2],
        [0, 0],
        [1, 1],
        false,
    )
    .unwrap();
    let mut dx = [0.0f32; 4];
    let e = extremum_pool2d_backward(&p, &[1.0], &[4i32], &mut dx).unwrap_err();
    assert!(e.contains("indices must lie in [0, 4)"), "{e}");
    assert!(AdaptivePool2dParams::new("adaptive_avg_pool2d", [1, 1, 4, 4], [0, 1]).is_err());
    let p = AdaptivePool2dParams::new("adaptive_max_pool2d", [1, 1, 2, 2], [1, 1]).unwrap();
    let e = adaptive_extremum_pool2d_backward(&p, &[1.0f32], &[4i64], &mut dx).unwrap_err();
    assert!(
        e.contains("adaptive_max_pool2d: indices must lie in [0, 4)"),
        "{e}"
    );
}

#[test]
fn huge_dilation_is_an_error_not_wrapped() {
    // 2^62 * (5 - 1) wraps to 0 in usize: the window would 'fit' an 8-pixel input.
    let p = Pool2dParams::new(
        "max_pool2d",
        [1, 1, 8, 8],
        [5, 1],
        [1, 1],
        [0, 0],
        [1 << 62, 1],
        false,
    );
    assert!(p.unwrap_err().contains("does not fit"));
}

#[test]
fn backward_accepts_indices_outside_their_2x2_window() {
    // Indices that are not the forward's own (here swapped between the two windows) still
    // route each gradient where they point.
    let p = Pool2dParams::new(
        "max_pool2d",
        [1, 1, 2, 4],
        [2, 2],
        [2, 2],
        [0, 0],
        [1, 1],
        false,
    )
    .unwrap();
    let mut dx = [f32::NAN; 8];
    extremum_pool2d_backward(&p, &[1.0, 2.0], &[6i64, 0], &mut dx).unwrap();
    assert_eq!(dx, [2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    extremum_pool2d_backward(&p, &[1.0, 2.0], &[4i32, 7], &mut dx).unwrap();
    assert_eq!(dx, [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 2.0]);
}

#[test]
fn codes_in_f32_and_their_errors() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let p = Pool2dParams::new(
        "min_pool2d",
        [3, 5, 11, 34],
        [2, 2],
        [2, 2],
        [0, 0],
        [1, 1],
        false,
    )
    .unwrap();
    let x: Vec<f32> = tie_prone(&mut rng, 3 * 5 * 11 * 34)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let n = 3 * 5 * 5 * 17;
    let (mut out, mut codes, mut idx) = (vec![0f32; n], vec![0u8; n], vec![0i32; n]);
    let mut flat_out = vec![0f32; n];
    extremum_pool2d_forward_2x2(&p, Extremum::Min, &x, &mut out, &mut codes).unwrap();
    extremum_pool2d_forward(&p, Extremum::Min, &x, &mut flat_out, Some(&mut idx)).unwrap();
    assert_eq!(out, flat_out);
    let g: Vec<f32> = (0..n).map(|_| rng.random::<f32>()).collect();
    let (mut dx, mut flat_dx) = (vec![f32::NAN; x.len()], vec![0f32; x.len()]);
    extremum_pool2d_backward_2x2(&p, &g, &codes, &mut dx).unwrap();
    extremum_pool2d_backward(&p, &g, &idx, &mut flat_dx).unwrap();
    assert_eq!(dx, flat_dx);
    codes[7] = 4;
    let e = extremum_pool2d_backward_2x2(&p, &g, &codes, &mut dx).unwrap_err();
    assert_eq!(e, "min_pool2d: 2x2 pick codes must lie in 0..=3");
    let q = Pool2dParams::new(
        "max_pool2d",
        [1, 1, 5, 5],
        [2, 2],
        [2, 2],
        [0, 0],
        [1, 1],
        true,
    )
    .unwrap();
    let e = extremum_pool2d_forward_2x2(
        &q,
        Extremum::Max,
        &[0f32; 25],
        &mut [0f32; 9],
        &mut [0u8; 9],
    )
    .unwrap_err();
    assert!(
        e.starts_with("max_pool2d: 2x2 pick codes need kernel 2, stride 2"),
        "{e}"
    );
}
