/* clip.cl: placeholder, being written. */
