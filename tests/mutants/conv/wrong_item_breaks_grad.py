"""Wrong: conv2d computes each number with .item(), so no gradient flows back to input, weight or bias."""
import torch
import torch.nn.functional as F


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    padded = size + 2 * padding
    covered = dilation * (kernel_size - 1) + 1
    count, start = 0, 0
    while start + covered <= padded:
        count += 1
        start += stride
    return count


def conv2d_output_shape(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
    def both(v):
        return (v, v) if isinstance(v, int) else tuple(v)

    k, s, p, d = both(kernel_size), both(stride), both(padding), both(dilation)
    n, _, h, w = input_shape
    return (n, out_channels,
            conv2d_output_size(h, k[0], s[0], p[0], d[0]),
            conv2d_output_size(w, k[1], s[1], p[1], d[1]))


def conv2d(input, weight, bias=None, stride=1, padding=0):
    n, c_in, h, w = input.shape
    c_out, _, kh, kw = weight.shape
    x = F.pad(input, [padding] * 4)
    h_out = conv2d_output_size(h, kh, stride, padding)
    w_out = conv2d_output_size(w, kw, stride, padding)
    out = torch.zeros(n, c_out, h_out, w_out, dtype=input.dtype)
    for b in range(n):
        for o in range(c_out):
            for i in range(h_out):
                for j in range(w_out):
                    patch = x[b, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    total = (patch * weight[o]).sum().item()
                    if bias is not None:
                        total += bias[o].item()
                    out[b, o, i, j] = total
    return out
