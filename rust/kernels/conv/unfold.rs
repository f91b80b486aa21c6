//! PyTorch's `unfold` (im2col of whole images: `(N, C, H, W) -> (N, C*KH*KW, L)`) and `fold`
//! (its adjoint, col2im: columns summed back into images where blocks overlap), by the
//! convolution's own lowering kernels in [`super::im2col`].
//!
//! The lowering of one tile spanning all `L_h` output rows, with its rows `L = L_h * L_w`
//! apart, is exactly PyTorch's layout for one image: row `c*KH*KW + i*KW + j`, column
//! `h*L_w + w`. Consecutive planes follow each other both in the images and in the columns
//! (image `n`'s columns start where image `n-1`'s end), so any run of planes of the batch,
//! across image boundaries, is one lowering of that many channels. Tasks are such runs.

use super::im2col::{col2im_add, im2col};
use super::{pair_str, par_chunks, positive_pair, shape_str, Conv2dParams};
use crate::kernels::real::Real;

/// Elements copied per parallel task below which a task is not split further.
const GRAIN: usize = 1 << 15;

/// The block geometry as the caller gave it: signed, so that a negative value from Python
/// gets a message rather than a wrap-around. Each is (rows, columns); padding is zero
/// padding on both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockArgs {
    pub kernel_size: [i64; 2],
    pub dilation: [i64; 2],
    pub padding: [i64; 2],
    pub stride: [i64; 2],
}

/// The geometry of one `unfold`/`fold` call, validated: images `(N, C, H, W)`, columns
/// `(N, C*KH*KW, L_h*L_w)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnfoldParams {
    pub batch: usize,
    pub channels: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub kernel: (usize, usize),
    pub dilation: (usize, usize),
    /// Zero padding on both sides: (rows, columns).
    pub padding: (usize, usize),
    pub stride: (usize, usize),
}

/// The number of block positions along one axis, or None when the block does not fit in
/// the padded axis (or the arithmetic would overflow).
fn positions(
    size: usize,
    kernel: usize,
    dilation: usize,
    pad: usize,
    stride: usize,
) -> Option<usize> {
    let padded = pad.checked_mul(2)?.checked_add(size)?;
    let span = dilation.checked_mul(kernel - 1)?.checked_add(1)?;
    Some(padded.checked_sub(span)? / stride + 1)
}

impl UnfoldParams {
    /// Validate `args` for images of shape `image`; `op` names the call in messages.
    pub fn new(op: &str, image: [usize; 4], args: &BlockArgs) -> Result<Self, String> {
        let kernel = positive_pair(op, "kernel_size", args.kernel_size)?;
        let dilation = positive_pair(op, "dilation", args.dilation)?;
        let stride = positive_pair(op, "stride", args.stride)?;
        let [ph, pw] = args.padding;
        if ph < 0 || pw < 0 {
            return Err(format!(
                "{op}: padding must be non-negative, got ({ph}, {pw})"
            ));
        }
        let [batch, channels, in_h, in_w] = image;
        let p = Self {
            batch,
            channels,
            in_h,
            in_w,
            kernel,
            dilation,
            padding: (ph as usize, pw as usize),
            stride,
        };
        let blocks = (
            positions(in_h, kernel.0, dilation.0, p.padding.0, stride.0),
            positions(in_w, kernel.1, dilation.1, p.padding.1, stride.1),
        );
        let (Some(_), Some(_)) = blocks else {
            return Err(format!(
                "{op}: images of spatial size {} with {} give no block positions: the \
                 dilated kernel must fit in the padded image",
                pair_str((in_h, in_w)),
                p.describe()
            ));
        };
        let elements = |dims: &[usize]| {
            dims.iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d))
                .filter(|&n| n <= isize::MAX as usize)
        };
        if elements(&p.image_shape()).is_none() || elements(&p.columns_shape()).is_none() {
            return Err(format!(
                "{op}: images {} with {} are too large to unfold",
                shape_str(&image),
                p.describe()
            ));
        }
        Ok(p)
    }

    /// Validate `args` for columns of shape `columns` folded into images of `output_size`.
    pub fn for_columns(
        op: &str,
        columns: [usize; 3],
        output_size: [i64; 2],
        args: &BlockArgs,
    ) -> Result<Self, String> {
        let [n, rows, l] = columns;
        let [h, w] = output_size;
        if h < 0 || w < 0 {
            return Err(format!(
                "{op}: output_size must be non-negative, got ({h}, {w})"
            ));
        }
        // Validates kernel_size before it divides anything.
        let probe = Self::new(op, [0, 0, h as usize, w as usize], args)?;
        let taps = probe.kernel.0 * probe.kernel.1;
        if rows % taps != 0 {
            return Err(format!(
                "{op}: input {} has {rows} rows per block, not divisible by KH * KW = {taps} \
                 for kernel_size={}",
                shape_str(&columns),
                pair_str(probe.kernel)
            ));
        }
        let p = Self::new(op, [n, rows / taps, h as usize, w as usize], args)?;
        if p.columns_shape() != columns {
            let (lh, lw) = p.out_dims();
            return Err(format!(
                "{op}: output_size={} with {} gives {} block positions ({} in all), but input \
                 {} has L = {l}; expected shape {}",
                pair_str((p.in_h, p.in_w)),
                p.describe(),
                pair_str((lh, lw)),
                lh * lw,
                shape_str(&columns),
                shape_str(&p.columns_shape())
            ));
        }
        Ok(p)
    }

    fn describe(&self) -> String {
        format!(
            "kernel_size={}, dilation={}, padding={}, stride={}",
            pair_str(self.kernel),
            pair_str(self.dilation),
            pair_str(self.padding),
            pair_str(self.stride)
        )
    }

    /// `(L_h, L_w)`: block positions per axis, each at least 1.
    pub fn out_dims(&self) -> (usize, usize) {
        let axis = |size, k, d, pad: usize, s: usize| (size + 2 * pad - d * (k - 1) - 1) / s + 1;
        (
            axis(
                self.in_h,
                self.kernel.0,
                self.dilation.0,
                self.padding.0,
                self.stride.0,
            ),
            axis(
                self.in_w,
                self.kernel.1,
                self.dilation.1,
                self.padding.1,
                self.stride.1,
            ),
        )
    }

    pub fn image_shape(&self) -> [usize; 4] {
        [self.batch, self.channels, self.in_h, self.in_w]
    }

    pub fn columns_shape(&self) -> [usize; 3] {
        let (lh, lw) = self.out_dims();
        [
            self.batch,
            self.channels * self.kernel.0 * self.kernel.1,
            lh * lw,
        ]
    }

    /// The convolution geometry whose lowering is the unfolding of `planes` consecutive
    /// planes (the output channels play no part in lowering).
    fn lowering(&self, planes: usize) -> Conv2dParams {
        let (ph, pw) = self.padding;
        Conv2dParams {
            batch: 1,
            in_channels: planes,
            in_h: self.in_h,
            in_w: self.in_w,
            out_channels: 1,
            kernel: self.kernel,
            stride: self.stride,
            padding: [ph, ph, pw, pw],
            dilation: self.dilation,
            groups: 1,
        }
    }

    fn check_len(&self, op: &str, name: &str, shape: &[usize], len: usize) -> Result<(), String> {
        let want: usize = shape.iter().product();
        if len != want {
            return Err(format!(
                "{op}: {name} has {len} elements but shape {} needs {want}",
                shape_str(shape)
            ));
        }
        Ok(())
    }
}

/// `columns = unfold(image)`: `(N, C, H, W) -> (N, C*KH*KW, L)`, zero where a block reads
/// the padding.
pub fn unfold<T: Real>(p: &UnfoldParams, image: &[T], columns: &mut [T]) -> Result<(), String> {
    p.check_len("unfold", "image", &p.image_shape(), image.len())?;
    p.check_len("unfold", "columns", &p.columns_shape(), columns.len())?;
    if columns.is_empty() {
        return Ok(());
    }
    if image.is_empty() {
        // H or W is 0: every block lies in the padding.
        columns.fill(T::ZERO);
        return Ok(());
    }
    let (lh, lw) = p.out_dims();
    let l = lh * lw;
    let (plane_in, plane_cols) = (p.in_h * p.in_w, p.kernel.0 * p.kernel.1 * l);
    let per_task = (GRAIN / plane_cols).max(1);
    par_chunks(columns, per_task * plane_cols, |task, chunk| {
        let planes = chunk.len() / plane_cols;
        let x = &image[task * per_task * plane_in..][..planes * plane_in];
        im2col(&p.lowering(planes), x, (0, lh), l, chunk);
    });
    Ok(())
}

/// `image = fold(columns)`: `(N, C*KH*KW, L) -> (N, C, H, W)`, overlapping blocks summed;
/// the adjoint of [`unfold`].
pub fn fold<T: Real>(p: &UnfoldParams, columns: &[T], image: &mut [T]) -> Result<(), String> {
    p.check_len("fold", "columns", &p.columns_shape(), columns.len())?;
    p.check_len("fold", "image", &p.image_shape(), image.len())?;
    if image.is_empty() {
        return Ok(());
    }
    let (lh, lw) = p.out_dims();
    let l = lh * lw;
    let (plane_in, plane_cols) = (p.in_h * p.in_w, p.kernel.0 * p.kernel.1 * l);
    let per_task = (GRAIN / plane_cols).max(1);
    par_chunks(image, per_task * plane_in, |task, chunk| {
        let planes = chunk.len() / plane_in;
        let cols = &columns[task * per_task * plane_cols..][..planes * plane_cols];
        chunk.fill(T::ZERO);
        col2im_add(&p.lowering(planes), cols, (0, lh), l, chunk);
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    /// `(columns index, image index)` of every tap that reads inside the image, by the
    /// definition: row `c*KH*KW + i*KW + j`, column `bh*L_w + bw` reads pixel
    /// `(bh*sh - ph + i*dh, bw*sw - pw + j*dw)` of plane `(n, c)`.
    fn naive_taps(p: &UnfoldParams) -> Vec<(usize, usize)> {
        let (lh, lw) = p.out_dims();
        let (kh, kw) = p.kernel;
        let mut taps = Vec::new();
        for n in 0..p.batch {
            for c in 0..p.channels {
                for i in 0..kh {
                    for j in 0..kw {
                        for bh in 0..lh {
                            for bw in 0..lw {
                                let r = (bh * p.stride.0 + i * p.dilation.0) as isize
                                    - p.padding.0 as isize;
                                let q = (bw * p.stride.1 + j * p.dilation.1) as isize
                                    - p.padding.1 as isize;
                                if r < 0 || q < 0 || r >= p.in_h as isize || q >= p.in_w as isize {
                                    continue;
                                }
                                let row = (n * p.channels + c) * kh * kw + i * kw + j;
                                let col = row * lh * lw + bh * lw + bw;
                                let px = ((n * p.channels + c) * p.in_h + r as usize) * p.in_w
                                    + q as usize;
                                taps.push((col, px));
                            }
                        }
                    }
                }
            }
        }
        taps
    }

    fn naive_unfold(p: &UnfoldParams, x: &[f64]) -> Vec<f64> {
        let mut cols = vec![0.0; p.columns_shape().iter().product()];
        for (col, px) in naive_taps(p) {
            cols[col] = x[px];
        }
        cols
    }

    fn naive_fold(p: &UnfoldParams, cols: &[f64]) -> Vec<f64> {
        let mut x = vec![0.0; p.image_shape().iter().product()];
        for (col, px) in naive_taps(p) {
            x[px] += cols[col];
        }
        x
    }

    fn args(k: (i64, i64), d: (i64, i64), pad: (i64, i64), s: (i64, i64)) -> BlockArgs {
        BlockArgs {
            kernel_size: [k.0, k.1],
            dilation: [d.0, d.1],
            padding: [pad.0, pad.1],
            stride: [s.0, s.1],
        }
    }

    fn random(rng: &mut impl Rng, n: usize) -> Vec<f64> {
        (0..n).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect()
    }

    /// Both directions against the naive loops; outputs start as NaN so a missed element
    /// shows.
    fn check(p: &UnfoldParams, rng: &mut impl Rng) {
        let x = random(rng, p.image_shape().iter().product());
        let mut cols = vec![f64::NAN; p.columns_shape().iter().product()];
        unfold(p, &x, &mut cols).unwrap();
        assert_eq!(cols, naive_unfold(p, &x), "unfold {p:?}");
        let g = random(rng, cols.len());
        let mut back = vec![f64::NAN; x.len()];
        fold(p, &g, &mut back).unwrap();
        let want = naive_fold(p, &g);
        for (i, (a, b)) in back.iter().zip(&want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                "fold {p:?} [{i}]: {a} vs {b}"
            );
        }
    }

    #[test]
    fn fixed_geometries() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let cases = [
            ([2, 3, 5, 6], args((3, 3), (1, 1), (0, 0), (1, 1))),
            ([2, 3, 5, 6], args((2, 3), (1, 1), (1, 0), (2, 1))),
            ([1, 2, 7, 5], args((2, 2), (2, 2), (1, 1), (2, 2))),
            ([2, 1, 5, 6], args((1, 2), (3, 1), (2, 3), (1, 3))),
            ([1, 1, 1, 1], args((1, 1), (1, 1), (0, 0), (1, 1))),
            ([3, 2, 9, 11], args((3, 2), (2, 3), (3, 1), (3, 2))),
            // Stride 2 on wide images takes the phase-plane paths of both directions.
            ([2, 2, 13, 31], args((3, 3), (1, 1), (1, 1), (2, 2))),
            ([1, 3, 8, 40], args((3, 5), (1, 2), (2, 4), (3, 3))),
        ];
        for (image, a) in cases {
            check(&UnfoldParams::new("unfold", image, &a).unwrap(), &mut rng);
        }
    }

    #[test]
    fn random_geometries() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let mut done = 0;
        while done < 300 {
            let image = [
                rng.random_range(1..3),
                rng.random_range(1..4),
                rng.random_range(1..12),
                rng.random_range(1..20),
            ];
            let mut pick = |hi: i64| (rng.random_range(1..=hi), rng.random_range(1..=hi));
            let (k, d, s) = (pick(4), pick(3), pick(3));
            let pad = (rng.random_range(0..4), rng.random_range(0..4));
            let Ok(p) = UnfoldParams::new("unfold", image, &args(k, d, pad, s)) else {
                continue;
            };
            check(&p, &mut rng);
            done += 1;
        }
    }

    #[test]
    fn many_planes_split_into_tasks_across_images() {
        // 3 * 7 planes of 9 * 15 * 12 columns: several planes per task, runs that cross
        // image boundaries, and a short last task.
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let a = args((3, 3), (1, 1), (1, 1), (1, 1));
        let p = UnfoldParams::new("unfold", [3, 7, 15, 12], &a).unwrap();
        check(&p, &mut rng);
        let a = args((2, 3), (2, 1), (0, 2), (2, 3));
        let p = UnfoldParams::new("unfold", [5, 9, 40, 37], &a).unwrap();
        check(&p, &mut rng);
    }

    #[test]
    fn f32_equals_f64_and_nan_propagates() {
        let a = args((2, 3), (1, 2), (1, 1), (2, 1));
        let p = UnfoldParams::new("unfold", [2, 3, 6, 7], &a).unwrap();
        let x: Vec<f64> = (0..p.image_shape().iter().product::<usize>())
            .map(|i| i as f64)
            .collect();
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let mut c64 = vec![0.0; p.columns_shape().iter().product()];
        let mut c32 = vec![0.0f32; c64.len()];
        unfold(&p, &x, &mut c64).unwrap();
        unfold(&p, &x32, &mut c32).unwrap();
        assert!(c64.iter().zip(&c32).all(|(&a, &b)| a as f32 == b));
        let mut i64_ = vec![0.0; x.len()];
        let mut i32_ = vec![0.0f32; x.len()];
        fold(&p, &c64, &mut i64_).unwrap();
        fold(&p, &c32, &mut i32_).unwrap();
        assert!(i64_.iter().zip(&i32_).all(|(&a, &b)| a as f32 == b));
        let mut nan = x.clone();
        nan[0] = f64::NAN;
        unfold(&p, &nan, &mut c64).unwrap();
        let naive = naive_unfold(&p, &nan);
        assert_eq!(
            c64.iter().filter(|v| v.is_nan()).count(),
            naive.iter().filter(|v| v.is_nan()).count()
        );
        assert!(c64.iter().any(|v| v.is_nan()));
    }

    #[test]
    fn empty_images_and_batches() {
        // H = 0 with padding still has block positions, all in the padding.
        let a = args((1, 2), (1, 1), (1, 1), (1, 1));
        let p = UnfoldParams::new("unfold", [2, 3, 0, 4], &a).unwrap();
        assert_eq!(p.columns_shape(), [2, 6, 2 * 5]);
        let mut cols = vec![f64::NAN; 2 * 6 * 10];
        unfold(&p, &[], &mut cols).unwrap();
        assert!(cols.iter().all(|&v| v == 0.0));
        fold(&p, &cols, &mut []).unwrap();
        let p = UnfoldParams::new("unfold", [0, 3, 4, 4], &a).unwrap();
        unfold::<f32>(&p, &[], &mut []).unwrap();
        fold::<f32>(&p, &[], &mut []).unwrap();
    }

    #[test]
    fn errors_name_the_argument_and_shapes() {
        let ok = args((2, 2), (1, 1), (0, 0), (1, 1));
        let err = |image, a: BlockArgs| UnfoldParams::new("unfold", image, &a).unwrap_err();
        assert!(err([1, 1, 4, 4], args((0, 2), (1, 1), (0, 0), (1, 1)))
            .contains("unfold: kernel_size must be positive, got (0, 2)"));
        assert!(err([1, 1, 4, 4], args((2, 2), (1, -1), (0, 0), (1, 1)))
            .contains("dilation must be positive"));
        assert!(err([1, 1, 4, 4], args((2, 2), (1, 1), (-1, 0), (1, 1)))
            .contains("padding must be non-negative, got (-1, 0)"));
        assert!(err([1, 1, 4, 4], args((2, 2), (1, 1), (0, 0), (0, 1)))
            .contains("stride must be positive"));
        assert!(err([1, 1, 2, 2], args((3, 3), (1, 1), (0, 0), (1, 1)))
            .contains("images of spatial size (2, 2) with kernel_size=(3, 3)"));
        assert!(
            err([1, 1, 4, 4], args((2, 2), (i64::MAX, 1), (0, 0), (1, 1)))
                .contains("no block positions")
        );
        assert!(err([usize::MAX / 2, 4, 4, 4], ok).contains("too large"));
        let cols = |shape, size| UnfoldParams::for_columns("fold", shape, size, &ok);
        assert!(cols([1, 6, 4], [3, 3])
            .unwrap_err()
            .contains("fold: input (1, 6, 4) has 6 rows per block, not divisible by KH * KW = 4"));
        assert!(cols([1, 4, 5], [3, 3]).unwrap_err().contains(
            "output_size=(3, 3) with kernel_size=(2, 2), dilation=(1, 1), padding=(0, 0), \
             stride=(1, 1) gives (2, 2) block positions (4 in all), but input (1, 4, 5) has \
             L = 5; expected shape (1, 4, 4)"
        ));
        assert!(cols([1, 4, 4], [-3, 3])
            .unwrap_err()
            .contains("output_size must be non-negative, got (-3, 3)"));
        let p = cols([2, 8, 4], [3, 3]).unwrap();
        assert_eq!(p.image_shape(), [2, 2, 3, 3]);
        let mut out = vec![0.0f64; 5];
        assert!(unfold(&p, &[0.0; 36], &mut out)
            .unwrap_err()
            .contains("unfold: columns has 5 elements but shape (2, 8, 4) needs 64"));
    }
}
