"""Right: im2col with F.unfold and one matrix product; a one-line size formula."""
import torch.nn.functional as F


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def conv2d_output_shape(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
    pairs = [tuple(v) if isinstance(v, (tuple, list)) else (v, v)
             for v in (kernel_size, stride, padding, dilation)]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pairs
    n, _, h, w = input_shape
    return n, out_channels, conv2d_output_size(h, kh, sh, ph, dh), conv2d_output_size(w, kw, sw, pw, dw)


def conv2d(input, weight, bias=None, stride=1, padding=0):
    n, _, h, w = input.shape
    c_out, _, kh, kw = weight.shape
    cols = F.unfold(input, (kh, kw), padding=padding, stride=stride)   # (N, C_in*kH*kW, L)
    out = weight.reshape(c_out, -1) @ cols                             # (N, C_out, L)
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, c_out, conv2d_output_size(h, kh, stride, padding),
                       conv2d_output_size(w, kw, stride, padding))
