/* reduce.cl: placeholder, being written. */
