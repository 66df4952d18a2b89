/* loss.cl: placeholder, being written. */
