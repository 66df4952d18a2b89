/* init.cl: placeholder, being written. */
