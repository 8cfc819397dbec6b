"""The VM test harness: guest kernels and initramfs images, QEMU machines
driven over a serial control channel, and the suite's topology."""
