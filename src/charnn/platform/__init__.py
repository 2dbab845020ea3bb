"""What charnn needs from the machine and the process: device and RNG, atomic writes, digests,
allocator tuning, and the private torch APIs it relies on.
"""
