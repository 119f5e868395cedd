/* flame.c: folded stacks ("a;b;c WEIGHT" lines) to an interactive SVG
 * flame graph, a differential one, or speedscope's JSON. */
#ifndef GREENCTL_FLAME_H
#define GREENCTL_FLAME_H

#include <stdio.h>

/* Reads folded stacks from in, writes the SVG to out; weights are in unit
 * (shown in the tooltips); palette: "cpu" (warm), "wait" (blues), "lock"
 * (purples), anything else warm. 0, or -1 on a write error. */
int flame_svg(FILE *in, FILE *out, const char *title, const char *unit, const char *palette);

/* The stacks of after, drawn as flame_svg does, each frame coloured by
 * how its share of the whole changed from before: red grew, blue shrank,
 * white the same. Shares, not weights: profiles of different lengths
 * compare. 0, or -1 on a write error. */
int flame_diff_svg(FILE *before, FILE *after, FILE *out, const char *title, const char *unit);

/* speedscope's file format (https://www.speedscope.app/file-format-schema.json):
 * one "sampled" profile, each folded stack a sample weighed by its weight,
 * in unit ("microseconds"). 0, or -1 on a write error. */
int flame_speedscope(FILE *in, FILE *out, const char *name, const char *unit);

#endif
