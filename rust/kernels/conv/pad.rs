//! Padding of the last two axes of a stack of planes, forward and backward, in PyTorch's
//! four modes: `constant` (a fill value), `reflect` (mirror without repeating the edge),
//! `replicate` (copy the edge) and `circular` (wrap around).
//!
//! Each output index maps to one source index per axis (or to the fill value), so forward is
//! a gather and backward the matching scatter-add: padded cells that copy the same input cell
//! send their gradients back to it.

use super::{par_chunks, shape_str};
use crate::kernels::real::Real;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PadMode {
    Constant(f64),
    Reflect,
    Replicate,
    Circular,
}

impl PadMode {
    /// Parse PyTorch's mode names; `value` is the fill of `"constant"`.
    pub fn from_name(name: &str, value: f64) -> Result<Self, String> {
        Ok(match name {
            "constant" | "zeros" => Self::Constant(value),
            "reflect" => Self::Reflect,
            "replicate" => Self::Replicate,
            "circular" => Self::Circular,
            other => {
                return Err(format!(
                "pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {other:?}"
            ))
            }
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Constant(_) => "constant",
            Self::Reflect => "reflect",
            Self::Replicate => "replicate",
            Self::Circular => "circular",
        }
    }
}

/// Padding of `planes` planes of `in_h x in_w`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pad2dParams {
    pub planes: usize,
    pub in_h: usize,
    pub in_w: usize,
    /// (top, bottom, left, right)
    pub pads: [usize; 4],
    pub mode: PadMode,
}

impl Pad2dParams {
    /// Validate: pads non-negative; reflect needs each pad smaller than its axis, circular at
    /// most its axis, replicate a non-empty axis. `shape` is only used in messages.
    pub fn new(shape: &[usize], pads: [i64; 4], mode: PadMode) -> Result<Self, String> {
        let n = shape.len();
        if n < 2 {
            return Err(format!(
                "pad: input {} needs at least 2 dimensions",
                shape_str(shape)
            ));
        }
        if pads.iter().any(|&v| v < 0) {
            return Err(format!(
                "pad: padding must be non-negative, got (left, right, top, bottom) = ({}, {}, {}, {})",
                pads[2], pads[3], pads[0], pads[1]
            ));
        }
        let pads = pads.map(|v| v as usize);
        let (h, w) = (shape[n - 2], shape[n - 1]);
        for (axis, size, before, after) in
            [(n - 2, h, pads[0], pads[1]), (n - 1, w, pads[2], pads[3])]
        {
            if before == 0 && after == 0 {
                continue;
            }
            let ok = match mode {
                PadMode::Constant(_) => true,
                PadMode::Reflect => before < size && after < size,
                PadMode::Replicate => size > 0,
                PadMode::Circular => before <= size && after <= size,
            };
            if !ok {
                let rule = match mode {
                    PadMode::Reflect => "smaller than",
                    PadMode::Circular => "at most",
                    _ => "used with a non-empty",
                };
                return Err(format!(
                    "pad: {} padding ({before}, {after}) of dimension {axis} must be {rule} its size {size} (input {})",
                    mode.name(),
                    shape_str(shape)
                ));
            }
        }
        Ok(Self {
            planes: shape[..n - 2].iter().product(),
            in_h: h,
            in_w: w,
            pads,
            mode,
        })
    }

    pub fn out_dims(&self) -> (usize, usize) {
        (
            self.in_h + self.pads[0] + self.pads[1],
            self.in_w + self.pads[2] + self.pads[3],
        )
    }

    /// For each output index along an axis of `size` with `before` padding: its source index.
    fn source_map(&self, size: usize, before: usize, out: usize) -> Vec<Option<usize>> {
        (0..out)
            .map(|o| {
                let i = o as isize - before as isize;
                let n = size as isize;
                let src = match self.mode {
                    PadMode::Constant(_) => (0..n).contains(&i).then_some(i),
                    PadMode::Reflect => Some(if i < 0 {
                        -i
                    } else if i >= n {
                        2 * (n - 1) - i
                    } else {
                        i
                    }),
                    PadMode::Replicate => Some(i.clamp(0, n - 1)),
                    PadMode::Circular => Some(i.rem_euclid(n)),
                };
                src.map(|s| s as usize)
            })
            .collect()
    }

    fn maps(&self) -> (Vec<Option<usize>>, Vec<Option<usize>>) {
        let (oh, ow) = self.out_dims();
        (
            self.source_map(self.in_h, self.pads[0], oh),
            self.source_map(self.in_w, self.pads[2], ow),
        )
    }

    fn check(&self, name: &str, len: usize, h: usize, w: usize) -> Result<(), String> {
        if len != self.planes * h * w {
            return Err(format!(
                "pad: {name} has {len} elements but {} planes of {h}x{w} need {}",
                self.planes,
                self.planes * h * w
            ));
        }
        Ok(())
    }
}

const GRAIN: usize = 1 << 15;

/// `out = pad(x)`.
pub fn pad2d<T: Real>(p: &Pad2dParams, x: &[T], out: &mut [T]) -> Result<(), String> {
    let (oh, ow) = p.out_dims();
    p.check("input", x.len(), p.in_h, p.in_w)?;
    p.check("output", out.len(), oh, ow)?;
    if out.is_empty() {
        return Ok(());
    }
    let (rows, cols) = p.maps();
    let fill = match p.mode {
        PadMode::Constant(v) => T::from_f64(v),
        _ => T::ZERO,
    };
    let plane_in = p.in_h * p.in_w;
    let per_task = (GRAIN / (oh * ow)).max(1);
    let (pl, pr) = (p.pads[2], p.pads[3]);
    par_chunks(out, per_task * oh * ow, |task, chunk| {
        for (i, o) in chunk.chunks_exact_mut(oh * ow).enumerate() {
            let xp = &x[(task * per_task + i) * plane_in..][..plane_in];
            for (orow, src_row) in o.chunks_exact_mut(ow).zip(&rows) {
                let Some(r) = *src_row else {
                    orow.fill(fill);
                    continue;
                };
                let xr = &xp[r * p.in_w..][..p.in_w];
                // The interior is a straight copy; only the borders go through the map.
                orow[pl..ow - pr].copy_from_slice(xr);
                for j in (0..pl).chain(ow - pr..ow) {
                    orow[j] = cols[j].map_or(fill, |c| xr[c]);
                }
            }
        }
    });
    Ok(())
}

/// `grad_input = pad^T(grad_output)`: every output cell's gradient goes to its source cell.
pub fn pad2d_backward<T: Real>(
    p: &Pad2dParams,
    grad_out: &[T],
    grad_in: &mut [T],
) -> Result<(), String> {
    let (oh, ow) = p.out_dims();
    p.check("grad_output", grad_out.len(), oh, ow)?;
    p.check("grad_input", grad_in.len(), p.in_h, p.in_w)?;
    let plane_in = p.in_h * p.in_w;
    if grad_in.is_empty() {
        return Ok(());
    }
    let (rows, cols) = p.maps();
    let per_task = (GRAIN / (oh * ow).max(1)).max(1);
    let (pl, pr) = (p.pads[2], p.pads[3]);
    par_chunks(grad_in, per_task * plane_in, |task, chunk| {
        for (i, d) in chunk.chunks_exact_mut(plane_in).enumerate() {
            let g = &grad_out[(task * per_task + i) * oh * ow..][..oh * ow];
            d.fill(T::ZERO);
            for (grow, src_row) in g.chunks_exact(ow).zip(&rows) {
                let Some(r) = *src_row else { continue };
                let dr = &mut d[r * p.in_w..][..p.in_w];
                for (dv, &gv) in dr.iter_mut().zip(&grow[pl..ow - pr]) {
                    *dv += gv;
                }
                for j in (0..pl).chain(ow - pr..ow) {
                    if let Some(c) = cols[j] {
                        dr[c] += grow[j];
                    }
                }
            }
        }
    });
    Ok(())
}
