/* flame.c: folded stacks ("a;b;c WEIGHT" lines) to an SVG flame graph. */
#ifndef GREENCTL_FLAME_H
#define GREENCTL_FLAME_H

#include <stdio.h>

/* Reads folded stacks from in, writes the SVG to out; weights are in
 * unit (shown in the tooltips). 0, or -1 on a write error. */
int flame_svg(FILE *in, FILE *out, const char *title, const char *unit);

#endif
