//! Max and min pooling: forward (with the flat index of each pick) and backward.

use super::{Extremum, Pool2dParams, PoolIndex};
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
        Extremum::Max => forward::<T, I, true>(p, input, output, indices),
        Extremum::Min => forward::<T, I, false>(p, input, output, indices),
    }
    Ok(())
}

fn forward<T: Real, I: PoolIndex, const MAX: bool>(
    p: &Pool2dParams,
    x: &[T],
    out: &mut [T],
    indices: Option<&mut [I]>,
) {
    let (oh, ow) = p.out_dims();
    let (plane_in, plane_out) = (p.in_h * p.in_w, oh * ow);
    if plane_out == 0 || p.planes() == 0 {
        return;
    }
    let per_task = p.planes_per_task();
    let chunk = per_task * plane_out;
    let fast = is_2x2(p);
    let run = |task: usize, o: &mut [T], ix: Option<&mut [I]>| {
        let xs = &x[task * per_task * plane_in..][..o.len() / plane_out * plane_in];
        simd::dispatch(
            #[inline(always)]
            || {
                if fast {
                    forward_2x2::<T, I, MAX>(p, xs, o, ix);
                } else {
                    forward_sweep::<T, I, MAX>(p, xs, o, ix);
                }
            },
        );
    };
    match indices {
        None => par_chunks(out, chunk, |task, o| run(task, o, None)),
        Some(ix) => {
            // Pair each output chunk with its index chunk so tasks own disjoint pieces of both.
            let mut pairs: Vec<(&mut [T], &mut [I])> =
                out.chunks_mut(chunk).zip(ix.chunks_mut(chunk)).collect();
            par_chunks(&mut pairs, 1, |task, pair| {
                let (o, i) = &mut pair[0];
                run(task, o, Some(i));
            });
        }
    }
}

/// 2x2 windows with stride 2 that all lie inside the input (not so in ceil mode on odd sizes).
fn is_2x2(p: &Pool2dParams) -> bool {
    let (oh, ow) = p.out_dims();
    p.kernel == (2, 2)
        && p.stride == (2, 2)
        && p.padding == (0, 0)
        && p.dilation == (1, 1)
        && 2 * oh <= p.in_h
        && 2 * ow <= p.in_w
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
/// pairs so that LLVM vectorises the stride-2 loads.
#[inline(always)]
fn forward_2x2<T: Real, I: PoolIndex, const MAX: bool>(
    p: &Pool2dParams,
    x: &[T],
    out: &mut [T],
    mut ix: Option<&mut [I]>,
) {
    let (oh, ow) = p.out_dims();
    let (w, plane_in, plane_out) = (p.in_w, p.in_h * p.in_w, oh * ow);
    let mut offsets = vec![0u32; ow];
    for (pi, o) in out.chunks_exact_mut(plane_out).enumerate() {
        let xp = &x[pi * plane_in..][..plane_in];
        for r in 0..oh {
            let top = xp[2 * r * w..][..2 * ow].chunks_exact(2);
            let bottom = xp[(2 * r + 1) * w..][..2 * ow].chunks_exact(2);
            let orow = &mut o[r * ow..][..ow];
            // Offsets within the window: 0, 1, W, W + 1, in the order PyTorch visits them.
            for (((m, k), t), b) in orow.iter_mut().zip(&mut offsets).zip(top).zip(bottom) {
                let (v, kv) = (t[0], 0);
                let (v, kv) = pick::<T, u32, MAX>(v, kv, t[1], 1);
                let (v, kv) = pick::<T, u32, MAX>(v, kv, b[0], w as u32);
                let (v, kv) = pick::<T, u32, MAX>(v, kv, b[1], w as u32 + 1);
                *m = v;
                *k = kv;
            }
            if let Some(ix) = ix.as_deref_mut() {
                let base = 2 * r * w;
                let irow = &mut ix[pi * plane_out + r * ow..][..ow];
                for (c, (i, &k)) in irow.iter_mut().zip(&offsets).enumerate() {
                    *i = I::from_usize(base + 2 * c + k as usize);
                }
            }
        }
    }
}

/// Backward of 2x2 stride-2 windows that tile the plane: every input element belongs to at
/// most one window, so the plane is written once, each element getting its window's gradient
/// or zero, with no separate clearing pass and no scatter. Returns false (having written
/// garbage) if an index lies outside its window; the caller then takes the general path.
#[inline(always)]
fn backward_2x2<T: Real, I: PoolIndex>(p: &Pool2dParams, g: &[T], ix: &[I], d: &mut [T]) -> bool {
    let (oh, ow) = p.out_dims();
    let w = p.in_w;
    let mut ok = true;
    for r in 0..oh {
        let (top, bottom) = d[2 * r * w..(2 * r + 2) * w].split_at_mut(w);
        let base = (2 * r * w) as i64;
        let cells = top[..2 * ow]
            .chunks_exact_mut(2)
            .zip(bottom[..2 * ow].chunks_exact_mut(2))
            .zip(&g[r * ow..][..ow])
            .zip(&ix[r * ow..][..ow]);
        for (c, (((t, b), &gv), &i)) in cells.enumerate() {
            let k = i.to_i64() - base - 2 * c as i64;
            let wi = w as i64;
            t[0] = if k == 0 { gv } else { T::ZERO };
            t[1] = if k == 1 { gv } else { T::ZERO };
            b[0] = if k == wi { gv } else { T::ZERO };
            b[1] = if k == wi + 1 { gv } else { T::ZERO };
            ok &= k == 0 || k == 1 || k == wi || k == wi + 1;
        }
        top[2 * ow..].fill(T::ZERO);
        bottom[2 * ow..].fill(T::ZERO);
    }
    d[2 * oh * w..].fill(T::ZERO);
    ok
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
    let per_task = p.planes_per_task();
    let fast = is_2x2(p);
    let bad = std::sync::atomic::AtomicBool::new(false);
    par_chunks(grad_input, per_task * plane_in, |task, dx| {
        for (pi, d) in dx.chunks_exact_mut(plane_in).enumerate() {
            let o = (task * per_task + pi) * plane_out;
            let g = &grad_output[o..][..plane_out];
            let ix = &indices[o..][..plane_out];
            let done = fast
                && simd::dispatch(
                    #[inline(always)]
                    || backward_2x2(p, g, ix, d),
                );
            if done {
                continue;
            }
            // Zeroing a plane just before scattering into it keeps it in L1 for the scatter.
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
        return Err(format!(
            "{}: indices must lie in [0, {plane_in}) (the H*W of input {})",
            p.op,
            shape_str(&p.input_shape())
        ));
    }
    Ok(())
}
