/* An ordinary program: greenrun's tests build it statically, which
 * LD_PRELOAD cannot reach. */
#include <stdio.h>

int main(void)
{
	puts("hello");
	return 0;
}
