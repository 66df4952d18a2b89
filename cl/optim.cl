/* optim.cl: placeholder, being written. */
