/* activation.cl: placeholder, being written. */
