/* A deliberately broken kernel file for tests/test_device.c: the build must
** fail with the device's build log and this file's name in the message. */
__kernel void matmul_nn(__global float *x)
{
    x[0] = this_is_not_declared + 1.0f;
}
