/* test_reduce.c: placeholder, being written. */
int main(void) { return 77; }
