//! Matrix products on strided views of plain slices, through `gemm` (the crate `flex` uses):
//! the convolutions read and write their operands in whatever layout they lie in (a channels-
//! first output is a transposed `[positions, outputs]` matrix), with no copy in or out.
//!
//! `gemm`'s entry point is `unsafe` (raw pointers and strides); [`matmul`] is its safe face:
//! it checks that every element each view can reach lies inside its slice, and the borrow rules
//! keep the destination apart from both operands.

/// Where a `rows x cols` matrix's elements lie in a slice: `(i, j)` at
/// `i * row_stride + j * col_stride`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strided {
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl Strided {
    /// Rows laid out one after the other.
    pub fn row_major(rows: usize, cols: usize) -> Self {
        Strided {
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// Columns laid out one after the other: the transpose of a row-major `cols x rows`.
    #[cfg(test)]
    pub fn col_major(rows: usize, cols: usize) -> Self {
        Strided {
            rows,
            cols,
            row_stride: 1,
            col_stride: rows,
        }
    }

    /// The transposed view of the same elements.
    pub fn transposed(self) -> Self {
        Strided {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// One past the furthest element the view reaches (0 when it is empty), or `None` when
    /// that does not fit in a `usize` (release builds do not check overflow: a wrapped extent
    /// would pass the bounds check of a view that reaches anywhere).
    fn extent(&self) -> Option<usize> {
        if self.rows == 0 || self.cols == 0 {
            return Some(0);
        }
        (self.rows - 1)
            .checked_mul(self.row_stride)?
            .checked_add((self.cols - 1).checked_mul(self.col_stride)?)?
            .checked_add(1)
    }

    /// The strides as gemm takes them, when both fit in an `isize`.
    fn strides(&self) -> Option<(isize, isize)> {
        Some((
            isize::try_from(self.col_stride).ok()?,
            isize::try_from(self.row_stride).ok()?,
        ))
    }
}

/// `dst = lhs x rhs`, or `dst += lhs x rhs` when `accumulate`, on the calling thread (the
/// callers run many of these side by side).
///
/// Panics if the shapes disagree or a view reaches past its slice.
pub fn matmul(
    dst: &mut [f32],
    dst_view: Strided,
    lhs: &[f32],
    lhs_view: Strided,
    rhs: &[f32],
    rhs_view: Strided,
    accumulate: bool,
) {
    assert_eq!(
        (dst_view.rows, dst_view.cols, lhs_view.cols),
        (lhs_view.rows, rhs_view.cols, rhs_view.rows),
        "matmul: shapes disagree"
    );
    let [(dst_cs, dst_rs), (lhs_cs, lhs_rs), (rhs_cs, rhs_rs)] = [
        ("destination", dst_view, dst.len()),
        ("left operand", lhs_view, lhs.len()),
        ("right operand", rhs_view, rhs.len()),
    ]
    .map(|(what, view, len)| {
        assert!(
            view.extent().is_some_and(|extent| extent <= len),
            "matmul: the {what} view {view:?} reaches past its {len} elements"
        );
        view.strides().unwrap_or_else(|| {
            panic!("matmul: the {what} view {view:?} has a stride over isize::MAX")
        })
    });
    if dst_view.extent() == Some(0) {
        return;
    }
    // SAFETY: each pointer comes from a live slice that its view's every element lies inside
    // (checked above), with the view's own strides; `dst` is borrowed mutably, so it overlaps
    // neither operand, and nothing else touches these slices during the call. gemm writes only
    // the destination's elements, and reads it only when `read_dst` is true.
    unsafe {
        gemm::gemm(
            dst_view.rows,
            dst_view.cols,
            lhs_view.cols,
            dst.as_mut_ptr(),
            dst_cs,
            dst_rs,
            accumulate,
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(lhs: &[f32], l: Strided, rhs: &[f32], r: Strided) -> Vec<f32> {
        let mut out = vec![0.0; l.rows * r.cols];
        for i in 0..l.rows {
            for j in 0..r.cols {
                out[i * r.cols + j] = (0..l.cols)
                    .map(|t| {
                        lhs[i * l.row_stride + t * l.col_stride]
                            * rhs[t * r.row_stride + j * r.col_stride]
                    })
                    .sum();
            }
        }
        out
    }

    #[test]
    fn every_layout_gives_the_same_product() {
        let (m, k, n) = (37, 19, 23);
        let lhs: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
        let rhs: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
        for l in [Strided::row_major(m, k), Strided::col_major(m, k)] {
            for r in [Strided::row_major(k, n), Strided::col_major(k, n)] {
                let want = naive(&lhs, l, &rhs, r);
                for d in [Strided::row_major(m, n), Strided::col_major(m, n)] {
                    let mut dst = vec![1.0; m * n];
                    matmul(&mut dst, d, &lhs, l, &rhs, r, true);
                    let got: Vec<f32> = (0..m * n)
                        .map(|x| dst[(x / n) * d.row_stride + (x % n) * d.col_stride])
                        .collect();
                    let want_plus_one: Vec<f32> = want.iter().map(|v| v + 1.0).collect();
                    assert_eq!(got, want_plus_one, "{l:?} x {r:?} -> {d:?}, accumulated");
                    matmul(&mut dst, d, &lhs, l, &rhs, r, false);
                    let got: Vec<f32> = (0..m * n)
                        .map(|x| dst[(x / n) * d.row_stride + (x % n) * d.col_stride])
                        .collect();
                    assert_eq!(got, want, "{l:?} x {r:?} -> {d:?}");
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "reaches past")]
    fn a_view_whose_extent_overflows_is_refused() {
        // (3 - 1) * 2^63 wraps to 0 in unchecked arithmetic: an extent of 2 would pass.
        let huge = Strided {
            rows: 3,
            cols: 2,
            row_stride: 1 << 63,
            col_stride: 1,
        };
        let mut dst = vec![0.0; 6];
        matmul(
            &mut dst,
            Strided::row_major(3, 2),
            &[1.0; 4],
            huge,
            &[1.0; 4],
            Strided::row_major(2, 2),
            false,
        );
    }

    #[test]
    #[should_panic(expected = "reaches past")]
    fn a_view_past_its_slice_is_refused() {
        let mut dst = vec![0.0; 4];
        matmul(
            &mut dst,
            Strided::row_major(2, 2),
            &[1.0; 5],
            Strided::row_major(2, 3),
            &[1.0; 6],
            Strided::row_major(3, 2),
            false,
        );
    }
}
