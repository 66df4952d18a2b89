/* test_activation.c: placeholder, being written. */
int main(void) { return 77; }
