/* test_init.c: placeholder, being written. */
int main(void) { return 77; }
