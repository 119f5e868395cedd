/*
 * A flame graph from folded stacks, as SVG: greenctl profile renders its
 * own (no Perl, no browser script).
 *
 * Input: lines "root;caller;...;leaf WEIGHT" (Brendan Gregg's folded
 * format). The stacks are merged into a tree; each node is one rectangle,
 * as wide as its weight's share of the root's, stacked upward from the
 * root at the bottom; each has a <title> (the browser's tooltip) with the
 * function, its weight and its share. Colours are a hash of the name in a
 * warm palette, so one function keeps its colour across the graph.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flame.h"

struct node {
	char *name;
	unsigned long long weight;
	struct node *child, *sibling;
};

static struct node *node_new(const char *name, size_t len)
{
	struct node *n = calloc(1, sizeof *n);

	if (n == NULL || (n->name = strndup(name, len)) == NULL) {
		fprintf(stderr, "greenctl: out of memory\n");
		exit(1);
	}
	return n;
}

static struct node *child_of(struct node *parent, const char *name, size_t len)
{
	struct node **p = &parent->child;

	for (; *p != NULL; p = &(*p)->sibling)
		if (strlen((*p)->name) == len && memcmp((*p)->name, name, len) == 0)
			return *p;
	*p = node_new(name, len);
	return *p;
}

static void node_free(struct node *n)
{
	while (n != NULL) {
		struct node *next = n->sibling;

		node_free(n->child);
		free(n->name);
		free(n);
		n = next;
	}
}

static int depth_of(const struct node *n)
{
	int d = 0;

	for (const struct node *c = n->child; c != NULL; c = c->sibling) {
		int cd = depth_of(c);

		if (cd > d)
			d = cd;
	}
	return d + 1;
}

static void xml_text(FILE *out, const char *s, size_t max)
{
	for (size_t i = 0; s[i] != '\0' && i < max; i++) {
		switch (s[i]) {
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			fputc(s[i], out);
		}
	}
}

#define WIDTH 1200.0
#define ROW 16.0
#define PAD 10.0
#define CHAR_W 7.0 /* at font-size 12 */

struct layout {
	FILE *out;
	double scale; /* pixels per unit of weight */
	double height;
	unsigned long long total;
	const char *unit;
};

static void draw(struct layout *l, const struct node *n, double x, int level)
{
	double w = (double)n->weight * l->scale;
	double y = l->height - PAD - ROW * (level + 1);
	unsigned h = 5381;
	double cx = x;

	if (w < 0.1)
		return;
	for (const char *p = n->name; *p != '\0'; p++)
		h = h * 33 + (unsigned char)*p;
	fputs("<g><title>", l->out);
	xml_text(l->out, n->name, 1000);
	fprintf(l->out, " (%llu %s, %.2f%%)</title>", n->weight, l->unit,
		100.0 * (double)n->weight / (double)(l->total ? l->total : 1));
	fprintf(l->out,
		"<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"rgb(%u,%u,%u)\" "
		"rx=\"2\"/>",
		x, y, w, ROW - 1, 200 + h % 55, 80 + (h / 55) % 120, 40 + (h / 7) % 40);
	if (w > 3 * CHAR_W) {
		size_t fit = (size_t)((w - 4) / CHAR_W);

		fprintf(l->out, "<text x=\"%.2f\" y=\"%.1f\">", x + 3, y + ROW - 4);
		if (strlen(n->name) <= fit) {
			xml_text(l->out, n->name, fit);
		} else {
			xml_text(l->out, n->name, fit > 2 ? fit - 2 : 0);
			fputs("..", l->out);
		}
		fputs("</text>", l->out);
	}
	fputs("</g>\n", l->out);
	for (const struct node *c = n->child; c != NULL; c = c->sibling) {
		draw(l, c, cx, level + 1);
		cx += (double)c->weight * l->scale;
	}
}

int flame_svg(FILE *in, FILE *out, const char *title, const char *unit)
{
	struct node *root = node_new("all", 3);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	struct layout l = { .out = out, .unit = unit };

	while ((len = getline(&line, &cap, in)) > 0) {
		char *sp = strrchr(line, ' ');
		unsigned long long w;
		struct node *n = root;
		const char *p;

		if (sp == NULL)
			continue;
		w = strtoull(sp + 1, NULL, 10);
		if (w == 0)
			continue;
		*sp = '\0';
		root->weight += w;
		for (p = line; *p != '\0';) {
			size_t flen = strcspn(p, ";");

			n = child_of(n, p, flen);
			n->weight += w;
			p += flen;
			if (*p == ';')
				p++;
		}
	}
	free(line);
	l.total = root->weight;
	l.height = ROW * depth_of(root) + 2 * PAD + 24;
	l.scale = root->weight > 0 ? (WIDTH - 2 * PAD) / (double)root->weight : 0;
	fprintf(out,
		"<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" "
		"xmlns=\"http://www.w3.org/2000/svg\" font-family=\"monospace\" font-size=\"12\">\n"
		"<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#fdfdf5\"/>\n"
		"<text x=\"%.0f\" y=\"20\" font-size=\"15\" text-anchor=\"middle\">",
		WIDTH, l.height, WIDTH / 2);
	xml_text(out, title, 200);
	fputs("</text>\n", out);
	if (root->weight > 0)
		draw(&l, root, PAD, 0);
	fputs("</svg>\n", out);
	node_free(root);
	return ferror(out) ? -1 : 0;
}
