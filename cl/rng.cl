/* rng.cl: placeholder, being written (shared by host and device). */
