"""PA5: implement the backward passes you derived in the written part.

Run `pa5-grader check .` in this folder to test your code on the public cases.
"""


def conv_backward(x, w, dy):
    """
    Backward pass of y = x * w (true convolution, zero padding, output the size of x).

    Inputs:
    - x: image of shape (H, W)
    - w: kernel of shape (Kh, Kw), both odd; index c in -r..r is stored at w[c + r]
    - dy: dL/dy of shape (H, W)

    Returns a tuple (dx, dw) of shapes (H, W) and (Kh, Kw).
    """
    raise NotImplementedError("conv_backward: see part A.1 and A.2")


def fc_backward(x, W, dy):
    """
    Backward pass of y = W x.

    Inputs:
    - x: input of shape (N,)
    - W: weights of shape (M, N)
    - dy: dL/dy of shape (M,)

    Returns a tuple (dx, dW) of shapes (N,) and (M, N).
    """
    raise NotImplementedError("fc_backward: see part B.1")


def softmax_loss_backward(s, y):
    """
    Backward pass of L = -log softmax(s)[y].

    Inputs:
    - s: scores of shape (M,)
    - y: integer label in [0, M)

    Returns ds = dL/ds of shape (M,).
    """
    raise NotImplementedError("softmax_loss_backward: see part C.1")
