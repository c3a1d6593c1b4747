"""Do-nothing: sizes are the input's, conv2d returns its input."""


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return size


def conv2d_output_shape(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
    return tuple(input_shape)


def conv2d(input, weight, bias=None, stride=1, padding=0):
    return input
