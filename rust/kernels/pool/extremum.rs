//! Max and min pooling: forward (with the flat index of each pick, or a one-byte code for
//! 2x2 windows) and backward.

use super::{adaptive_range, AdaptivePool2dParams, Extremum, Pool2dParams, PoolIndex};
use crate::kernels::conv::{par_chunks, shape_str};
use crate::kernels::real::Real;
use crate::kernels::simd;

/// Whether `v` replaces the current pick `m`: strictly better (so ties keep the first), or
/// NaN (so NaN propagates), as PyTorch's CPU kernel does.
#[inline(always)]
fn replaces<T: Real, const MAX: bool>(v: T, m: T) -> bool {
    (if MAX { v > m } else { v < m }) || v.is_nan()
}

/// The pick between `(m, k)` and a candidate `(v, kv)`, branch-free so loops vectorise.
#[inline(always)]
fn pick<T: Real, K: Copy, const MAX: bool>(m: T, k: K, v: T, kv: K) -> (T, K) {
    let r = replaces::<T, MAX>(v, m);
    (if r { v } else { m }, if r { kv } else { k })
}

/// Forward of max or min pooling; `indices`, when given, receives each pick's flat index in
/// its input plane (`-1` for a window with no input element).
pub fn extremum_pool2d_forward<T: Real, I: PoolIndex>(
    p: &Pool2dParams,
    which: Extremum,
    input: &[T],
    output: &mut [T],
    indices: Option<&mut [I]>,
) -> Result<(), String> {
    p.check_len("input", &p.input_shape(), input.len())?;
    p.check_len("output", &p.output_shape(), output.len())?;
    if let Some(ix) = indices.as_deref() {
        p.check_len("indices", &p.output_shape(), ix.len())?;
    }
    match which {
        Extremum::Max => forward::<T, I, true>(p, input, output, indices, None),
        Extremum::Min => forward::<T, I, false>(p, input, output, indices, None),
    }
    Ok(())
}

/// Forward of max or min pooling over 2x2 windows with stride 2 that tile the input (see
/// [`Pool2dParams::is_2x2_tiling`]), recording each pick as a one-byte code: its place in the
/// window, 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right. A quarter of the traffic
/// of int32 indices, and it lets the backward write each input gradient once.
pub fn extremum_pool2d_forward_2x2<T: Real>(
    p: &Pool2dParams,
    which: Extremum,
    input: &[T],
    output: &mut [T],
    codes: &mut [u8],
) -> Result<(), String> {
    p.require_2x2_tiling()?;
    p.check_len("input", &p.input_shape(), input.len())?;
    p.check_len("output", &p.output_shape(), output.len())?;
    p.check_len("codes", &p.output_shape(), codes.len())?;
    match which {
        Extremum::Max => forward::<T, i32, true>(p, input, output, None, Some(codes)),
        Extremum::Min => forward::<T, i32, false>(p, input, output, None, Some(codes)),
    }
    Ok(())
}

/// The output chunk of one parallel task with its pieces of the index or code arrays.
type Task<'a, T, I> = (&'a mut [T], Option<&'a mut [I]>, Option<&'a mut [u8]>);

fn forward<T: Real, I: PoolIndex, const MAX: bool>(
    p: &Pool2dParams,
    x: &[T],
    out: &mut [T],
    indices: Option<&mut [I]>,
    codes: Option<&mut [u8]>,
) {
    let (oh, ow) = p.out_dims();
    let (plane_in, plane_out) = (p.in_h * p.in_w, oh * ow);
    if plane_out == 0 || p.planes() == 0 {
        return;
    }
    let per_task = p.planes_per_task();
    let chunk = per_task * plane_out;
    let fast = p.is_2x2_tiling();
    let run = |task: usize, (o, ix, cs): &mut Task<T, I>| {
        let xs = &x[task * per_task * plane_in..][..o.len() / plane_out * plane_in];
        let (ix, cs) = (ix.as_deref_mut(), cs.as_deref_mut());
        simd::dispatch(
            #[inline(always)]
            || {
                if fast {
                    forward_2x2::<T, I, MAX>(p, xs, o, ix, cs);
                } else {
                    forward_sweep::<T, I, MAX>(p, xs, o, ix);
                }
            },
        );
    };
    // Pair each output chunk with its index (or code) chunk so that tasks own disjoint pieces.
    let mut ix_chunks = indices.map(|ix| ix.chunks_mut(chunk));
    let mut code_chunks = codes.map(|c| c.chunks_mut(chunk));
    let mut tasks: Vec<Task<T, I>> = out
        .chunks_mut(chunk)
        .map(|o| {
            let ix = ix_chunks.as_mut().and_then(|it| it.next());
            let cs = code_chunks.as_mut().and_then(|it| it.next());
            (o, ix, cs)
        })
        .collect();
    par_chunks(&mut tasks, 1, |task, t| run(task, &mut t[0]));
}

/// Any geometry, one output row at a time: each kernel tap is swept across the row, visiting
/// every window's taps in PyTorch's order (row by row, left to right).
#[inline(always)]
fn forward_sweep<T: Real, I: PoolIndex, const MAX: bool>(
    p: &Pool2dParams,
    x: &[T],
    out: &mut [T],
    mut ix: Option<&mut [I]>,
) {
    // u32 indices (planes are validated to hold < 2^31 elements) keep the index lanes as wide
    // as f32's, so the selects vectorise at full width.
    const NONE: u32 = u32::MAX;
    let (oh, ow) = p.out_dims();
    let (w, plane_in, plane_out) = (p.in_w, p.in_h * p.in_w, oh * ow);
    let init = if MAX { T::NEG_INFINITY } else { T::INFINITY };
    let windows = p.col_windows();
    let taps = p.col_taps();
    let mut at = vec![NONE; ow];
    for (pi, o) in out.chunks_exact_mut(plane_out).enumerate() {
        let xp = &x[pi * plane_in..][..plane_in];
        for r in 0..oh {
            let (ih0, nh) = p.row_taps(r);
            let m = &mut o[r * ow..][..ow];
            m.fill(init);
            // Before any update, a window points at its first element, as in PyTorch.
            for (a, &(iw, nw)) in at.iter_mut().zip(&windows) {
                *a = if nh > 0 && nw > 0 {
                    (ih0 * w + iw) as u32
                } else {
                    NONE
                };
            }
            for step in 0..nh {
                let ih = ih0 + step * p.dilation.0;
                let row = &xp[ih * w..][..w];
                for t in &taps {
                    let n = t.hi - t.lo;
                    if n == 0 {
                        continue;
                    }
                    let (ms, ats) = (&mut m[t.lo..t.hi], &mut at[t.lo..t.hi]);
                    let base = (ih * w + t.first_iw) as u32;
                    let src = &row[t.first_iw..];
                    // Constant strides let LLVM vectorise the (interleaved) loads.
                    match p.stride.1 {
                        1 => sweep_tap::<T, MAX, 1>(ms, ats, src, base, 1),
                        2 => sweep_tap::<T, MAX, 2>(ms, ats, src, base, 2),
                        sw => sweep_tap::<T, MAX, 0>(ms, ats, src, base, sw),
                    }
                }
            }
            if let Some(ix) = ix.as_deref_mut() {
                for (i, &a) in ix[pi * plane_out + r * ow..][..ow].iter_mut().zip(&at) {
                    *i = if a == NONE {
                        I::NONE
                    } else {
                        I::from_usize(a as usize)
                    };
                }
            }
        }
    }
}

/// One kernel tap across a run of windows: window `j` reads `src[j * stride]`, whose flat
/// index is `base + j * stride`. `SW` is the stride when known at compile time, else 0.
#[inline(always)]
fn sweep_tap<T: Real, const MAX: bool, const SW: usize>(
    m: &mut [T],
    at: &mut [u32],
    src: &[T],
    base: u32,
    stride: usize,
) {
    let sw = if SW == 0 { stride } else { SW };
    let n = m.len();
    if n == 0 {
        return;
    }
    // Exactly the span read, so the indexing below needs no bounds checks.
    let src = &src[..(n - 1) * sw + 1];
    for j in 0..n {
        let k = base + (j * sw) as u32;
        (m[j], at[j]) = pick::<T, u32, MAX>(m[j], at[j], src[j * sw], k);
    }
}

/// 2x2 windows with stride 2 inside the input: the common case, as branch-free selects over
/// pairs so that LLVM vectorises the stride-2 loads. Records flat indices or 2x2 codes.
#[inline(always)]
fn forward_2x2<T: Real, I: PoolIndex, const MAX: bool>(
    p: &Pool2dParams,
    x: &[T],
    out: &mut [T],
    mut ix: Option<&mut [I]>,
    mut codes: Option<&mut [u8]>,
) {
    let (oh, ow) = p.out_dims();
    let (w, plane_in, plane_out) = (p.in_w, p.in_h * p.in_w, oh * ow);
    let mut picks = vec![0u32; ow];
    for (pi, o) in out.chunks_exact_mut(plane_out).enumerate() {
        let xp = &x[pi * plane_in..][..plane_in];
        for r in 0..oh {
            let top = xp[2 * r * w..][..2 * ow].chunks_exact(2);
            let bottom = xp[(2 * r + 1) * w..][..2 * ow].chunks_exact(2);
            let orow = &mut o[r * ow..][..ow];
            // Taps in the order PyTorch visits them, so ties keep the first.
            for (((m, k), t), b) in orow.iter_mut().zip(&mut picks).zip(top).zip(bottom) {
                let (v, kv) = (t[0], 0);
                let (v, kv) = pick::<T, u32, MAX>(v, kv, t[1], 1);
                let (v, kv) = pick::<T, u32, MAX>(v, kv, b[0], 2);
                let (v, kv) = pick::<T, u32, MAX>(v, kv, b[1], 3);
                *m = v;
                *k = kv;
            }
            let at = pi * plane_out + r * ow;
            if let Some(cs) = codes.as_deref_mut() {
                for (c, &k) in cs[at..][..ow].iter_mut().zip(&picks) {
                    *c = k as u8;
                }
            }
            if let Some(ix) = ix.as_deref_mut() {
                let base = 2 * r * w;
                for (c, (i, &k)) in ix[at..][..ow].iter_mut().zip(&picks).enumerate() {
                    *i = I::from_usize(base + 2 * c + (k & 1) as usize + (k >> 1) as usize * w);
                }
            }
        }
    }
}

/// Backward of max or min pooling: `grad_input[indices[o]] += grad_output[o]` per plane.
pub fn extremum_pool2d_backward<T: Real, I: PoolIndex>(
    p: &Pool2dParams,
    grad_output: &[T],
    indices: &[I],
    grad_input: &mut [T],
) -> Result<(), String> {
    p.check_len("grad_output", &p.output_shape(), grad_output.len())?;
    p.check_len("indices", &p.output_shape(), indices.len())?;
    p.check_len("grad_input", &p.input_shape(), grad_input.len())?;
    let (oh, ow) = p.out_dims();
    let (plane_in, plane_out) = (p.in_h * p.in_w, oh * ow);
    if plane_in == 0 || p.planes() == 0 {
        return Ok(());
    }
    scatter_picks(
        (plane_in, plane_out),
        p.planes_per_task(),
        grad_output,
        indices,
        grad_input,
    )
    .map_err(|()| bad_indices(p.op, plane_in, &p.input_shape()))
}

fn bad_indices(op: &str, plane_in: usize, input_shape: &[usize]) -> String {
    format!(
        "{op}: indices must lie in [0, {plane_in}) (the H*W of input {})",
        shape_str(input_shape)
    )
}

/// `grad_input[indices[o]] += grad_output[o]` within each plane (`plane_in` and `plane_out`
/// elements per input and output plane), `per_task` planes per parallel task. A negative
/// index (an empty window) routes nothing; `Err` if any index lies past its plane.
fn scatter_picks<T: Real, I: PoolIndex>(
    (plane_in, plane_out): (usize, usize),
    per_task: usize,
    grad_output: &[T],
    indices: &[I],
    grad_input: &mut [T],
) -> Result<(), ()> {
    let bad = std::sync::atomic::AtomicBool::new(false);
    par_chunks(grad_input, per_task * plane_in, |task, dx| {
        for (pi, d) in dx.chunks_exact_mut(plane_in).enumerate() {
            let o = (task * per_task + pi) * plane_out;
            let g = &grad_output[o..][..plane_out];
            let ix = &indices[o..][..plane_out];
            // Zeroing a plane just before scattering into it keeps it in L1 for the scatter.
            // (Flat indices need the clear: 2x2 windows go through pick codes and a
            // write-once pass instead, see `extremum_pool2d_backward_2x2`.)
            d.fill(T::ZERO);
            for (&gv, &i) in g.iter().zip(ix) {
                match i.to_usize() {
                    Some(i) if i < plane_in => d[i] += gv,
                    Some(_) => bad.store(true, std::sync::atomic::Ordering::Relaxed),
                    None => {}
                }
            }
        }
    });
    if bad.into_inner() {
        Err(())
    } else {
        Ok(())
    }
}

/// Adaptive max or min pooling: each output cell picks the extremum of its window (see
/// [`AdaptivePool2dParams`]) with the same rules as windowed pooling (first on ties, NaN
/// propagates), and `indices` receives the pick's flat index `ih * W + iw` in its plane.
pub fn adaptive_extremum_pool2d_forward<T: Real, I: PoolIndex>(
    p: &AdaptivePool2dParams,
    which: Extremum,
    input: &[T],
    output: &mut [T],
    indices: &mut [I],
) -> Result<(), String> {
    p.check_len("input", &p.input_shape(), input.len())?;
    p.check_len("output", &p.output_shape(), output.len())?;
    p.check_len("indices", &p.output_shape(), indices.len())?;
    match which {
        Extremum::Max => adaptive_forward::<T, I, true>(p, input, output, indices),
        Extremum::Min => adaptive_forward::<T, I, false>(p, input, output, indices),
    }
    Ok(())
}

fn adaptive_forward<T: Real, I: PoolIndex, const MAX: bool>(
    p: &AdaptivePool2dParams,
    x: &[T],
    out: &mut [T],
    indices: &mut [I],
) {
    let (plane_in, plane_out) = (p.in_h * p.in_w, p.out_h * p.out_w);
    if out.is_empty() {
        return;
    }
    let per_task = p.planes_per_task();
    let chunk = per_task * plane_out;
    let mut tasks: Vec<(&mut [T], &mut [I])> = out
        .chunks_mut(chunk)
        .zip(indices.chunks_mut(chunk))
        .collect();
    par_chunks(&mut tasks, 1, |task, t| {
        let (o, ix) = &mut t[0];
        for (pi, (o, ix)) in o
            .chunks_exact_mut(plane_out)
            .zip(ix.chunks_exact_mut(plane_out))
            .enumerate()
        {
            let xp = &x[(task * per_task + pi) * plane_in..][..plane_in];
            for r in 0..p.out_h {
                let (h0, h1) = adaptive_range(r, p.out_h, p.in_h);
                for c in 0..p.out_w {
                    let (w0, w1) = adaptive_range(c, p.out_w, p.in_w);
                    // Windows are never empty, so the first cell starts the search.
                    let (mut m, mut k) = (xp[h0 * p.in_w + w0], h0 * p.in_w + w0);
                    for a in h0..h1 {
                        let first = a * p.in_w + w0;
                        for (j, &v) in xp[first..a * p.in_w + w1].iter().enumerate() {
                            (m, k) = pick::<T, usize, MAX>(m, k, v, first + j);
                        }
                    }
                    o[r * p.out_w + c] = m;
                    ix[r * p.out_w + c] = I::from_usize(k);
                }
            }
        }
    });
}

/// Backward of [`adaptive_extremum_pool2d_forward`]: the gradient of each output cell goes
/// to the input cell its index names (windows overlap, so a cell may receive several).
pub fn adaptive_extremum_pool2d_backward<T: Real, I: PoolIndex>(
    p: &AdaptivePool2dParams,
    grad_output: &[T],
    indices: &[I],
    grad_input: &mut [T],
) -> Result<(), String> {
    p.check_len("grad_output", &p.output_shape(), grad_output.len())?;
    p.check_len("indices", &p.output_shape(), indices.len())?;
    p.check_len("grad_input", &p.input_shape(), grad_input.len())?;
    let (plane_in, plane_out) = (p.in_h * p.in_w, p.out_h * p.out_w);
    if grad_input.is_empty() {
        return Ok(());
    }
    scatter_picks(
        (plane_in, plane_out),
        p.planes_per_task(),
        grad_output,
        indices,
        grad_input,
    )
    .map_err(|()| bad_indices(p.op, plane_in, &p.input_shape()))
}

/// Backward of [`extremum_pool2d_forward_2x2`]: every input gradient is written once, the
/// gradient of its window where the code picks it and zero elsewhere (also in a last row or
/// column that no window covers), so there is no separate clearing pass.
pub fn extremum_pool2d_backward_2x2<T: Real>(
    p: &Pool2dParams,
    grad_output: &[T],
    codes: &[u8],
    grad_input: &mut [T],
) -> Result<(), String> {
    p.require_2x2_tiling()?;
    p.check_len("grad_output", &p.output_shape(), grad_output.len())?;
    p.check_len("codes", &p.output_shape(), codes.len())?;
    p.check_len("grad_input", &p.input_shape(), grad_input.len())?;
    let (oh, ow) = p.out_dims();
    let (w, plane_in, plane_out) = (p.in_w, p.in_h * p.in_w, oh * ow);
    if plane_in == 0 || p.planes() == 0 {
        return Ok(());
    }
    let per_task = p.planes_per_task();
    let bad = std::sync::atomic::AtomicBool::new(false);
    par_chunks(grad_input, per_task * plane_in, |task, dx| {
        let invalid = simd::dispatch(
            #[inline(always)]
            || {
                let mut invalid = false;
                for (pi, d) in dx.chunks_exact_mut(plane_in).enumerate() {
                    let o = (task * per_task + pi) * plane_out;
                    let (g, cs) = (&grad_output[o..][..plane_out], &codes[o..][..plane_out]);
                    for r in 0..oh {
                        let (g, cs) = (&g[r * ow..][..ow], &cs[r * ow..][..ow]);
                        let (top, bottom) = d[2 * r * w..][..2 * w].split_at_mut(w);
                        invalid |= spread_2x2_row(top, bottom, g, cs);
                        top[2 * ow..].fill(T::ZERO);
                        bottom[2 * ow..].fill(T::ZERO);
                    }
                    d[2 * oh * w..].fill(T::ZERO);
                }
                invalid
            },
        );
        if invalid {
            bad.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    if bad.into_inner() {
        return Err(format!("{}: 2x2 pick codes must lie in 0..=3", p.op));
    }
    Ok(())
}

/// One row of 2x2 windows: window `c`'s gradient goes to the tap its code names, zero to the
/// other three. Returns whether some code was out of range (its window then gets zeros).
#[inline(always)]
fn spread_2x2_row<T: Real>(top: &mut [T], bottom: &mut [T], g: &[T], codes: &[u8]) -> bool {
    let n = g.len();
    let (top, bottom, codes) = (&mut top[..2 * n], &mut bottom[..2 * n], &codes[..n]);
    let mut worst = 0u8;
    for c in 0..n {
        let (gv, k) = (g[c], codes[c]);
        worst = worst.max(k);
        top[2 * c] = if k == 0 { gv } else { T::ZERO };
        top[2 * c + 1] = if k == 1 { gv } else { T::ZERO };
        bottom[2 * c] = if k == 2 { gv } else { T::ZERO };
        bottom[2 * c + 1] = if k == 3 { gv } else { T::ZERO };
    }
    worst > 3
}
