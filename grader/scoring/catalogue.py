"""The catalogue of known mistakes: what the student did, in words they can act on, and where to reread."""

from __future__ import annotations

from collections import defaultdict

# mistake id -> (what the student did, in words they can act on; part of the assignment)
CATALOGUE: dict[str, tuple[str, str]] = {
    "conv.dx.unflipped": (
        "dx uses the kernel without flipping it: dL/dx is dL/dy convolved with the kernel flipped both ways "
        "(w~[c,d] = w[-c,-d]), i.e. a correlation with w",
        "A.1",
    ),
    "conv.dx.flip_horizontal_only": (
        "the kernel is flipped left-right but not up-down: w~[c,d] = w[-c,-d] flips both axes",
        "A.1",
    ),
    "conv.dx.flip_vertical_only": (
        "the kernel is flipped up-down but not left-right: w~[c,d] = w[-c,-d] flips both axes",
        "A.1",
    ),
    "conv.dx.wrap": (
        "the border wraps around: the assignment uses zero padding, so pixels outside the image are 0",
        "A.1",
    ),
    "conv.dw.wrap": (
        "the border wraps around: the assignment uses zero padding, so pixels outside the image are 0",
        "A.2",
    ),
    "conv.dw.flipped": (
        "dw is flipped by 180 degrees: dL/dw[c,d] = sum dL/dy[e,f] x[e-c, f-d], index c stored at [c + r]",
        "A.2",
    ),
    "conv.dw.flip_vertical_only": (
        "dw is flipped up-down (its rows are in reverse order): dL/dw[c,d] = sum dL/dy[e,f] x[e-c, f-d] "
        "needs no flip, with index c stored at row c + r",
        "A.2",
    ),
    "conv.dw.flip_horizontal_only": (
        "dw is flipped left-right (its columns are in reverse order): dL/dw[c,d] = sum dL/dy[e,f] x[e-c, f-d] "
        "needs no flip, with index d stored at column d + r",
        "A.2",
    ),
    "conv.full": (
        "the output has the 'full' size (H+Kh-1, W+Kw-1); the assignment's output is the same size as the input",
        "A",
    ),
    "conv.valid": (
        "the output has the 'valid' size (H-Kh+1, W-Kw+1); pad with zeros so the output is the same size as the input",
        "A",
    ),
    "conv.empty_crop": (
        "the result is empty: a crop [r:-r] with r = 0 is [0:0] (r is 0 for a kernel side of 1, or wherever the "
        "padding is 0); write [r:H + r] (or [r:len - r]) instead",
        "A",
    ),
    "conv.fixed_crop": (
        "the crop or padding is right for one kernel size only (e.g. [1:-1] or a padding of 1, right for 3x3): "
        "the result is the right numbers cut at the wrong place; use (Kh-1)/2 rows and (Kw-1)/2 columns, from "
        "the kernel's own shape",
        "A",
    ),
    "conv.off_by_one": (
        "the result is shifted by one pixel: check the kernel centre r = (K-1)/2 and the padding",
        "A.1/A.2",
    ),
    "conv.dx.overwrite": (
        "each pixel keeps only one kernel tap's term: dx is a sum over all taps, so accumulate with += where = "
        "overwrites (in col2im too, whatever the loop order)",
        "A.1",
    ),
    "conv.dw.overwrite": (
        "each dw[c,d] keeps only one pixel's term: dw[c,d] is a sum over every pixel, so accumulate with += where = "
        "overwrites",
        "A.2",
    ),
    "conv.swapped_loops": (
        "wrong only when the image is not square (H != W), whatever the kernel: the loops over rows and columns "
        "are probably swapped, or one of H, W is used for both; rows run over H = x.shape[0], columns over W",
        "A",
    ),
    "conv.border": ("only a band along the border is wrong: the zero padding is missing or wrong", "A"),
    "conv.swap_axes": ("rows and columns are swapped: the first index is the row (height H or Kh)", "A"),
    "conv.square": ("wrong only when H != W or Kh != Kw: the code assumes square images or kernels", "A"),
    "fc.dx.no_transpose": ("dx uses W where W^T is needed: dL/dx = W^T dL/dy", "B.1"),
    "fc.dx.elementwise": ("an elementwise product where a matrix product is needed: dL/dx = W^T dL/dy (use @)", "B.1"),
    "fc.dW.elementwise": ("an elementwise product where an outer product is needed: dL/dW = dL/dy x^T", "B"),
    "fc.dW.transposed": ("dW is transposed: dL/dW has the shape of W, (M, N), and equals dL/dy x^T", "B"),
    "fc.square": ("wrong only when W is not square: check which dimension is M and which is N", "B.1"),
    "softmax.p_only": ("returns p without subtracting the one-hot target t: dL/ds = p - t", "C.1"),
    "softmax.t_minus_p": ("returns t - p: the sign is flipped, dL/ds = p - t", "C.1"),
    "softmax.wrong_index": ("the one-hot target is at the wrong index: t has its 1 at the label y (0-based)", "C.1"),
    "softmax.overflow": (
        "NaN or inf only on large scores: exp overflows; subtract max(s) before exp (softmax is shift invariant)",
        "C.1",
    ),
    "any.swapped_outputs": (
        "the results come back in the wrong order: this is the expected {other}; {function} returns ({order})",
        "",
    ),
    "any.zeros": ("returns all zeros: the function is probably unimplemented", ""),
    "any.sign": ("the sign is flipped: the gradient is the negative of what was returned", ""),
    "any.scale": ("the result is off by a constant factor{factor}", ""),
}


def generic_words(mistake_id: str) -> str | None:
    """A mistake's message without one student's values (e.g. the factor of a scale mistake); None if unknown."""
    return describe(mistake_id)[0] if mistake_id in CATALOGUE else None


def describe(mistake_id: str, **values) -> tuple[str, str]:
    """The message and assignment part of a mistake; values the message names but were not given read as ''."""
    text, section = CATALOGUE[mistake_id]
    return text.format_map(defaultdict(str, values)), section
