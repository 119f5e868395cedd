/*
 * Flame graphs from folded stacks, as one self-contained SVG file:
 * greenctl and greenrun draw their own (no Perl, no web server).
 *
 * Input: lines "root;caller;...;leaf WEIGHT" (Brendan Gregg's folded
 * format). The stacks merge into a tree, children in name order (so that
 * two profiles of one program lay out alike); each node is one rectangle,
 * as wide as its weight's share of the root's, stacked upward from the
 * root at the bottom, with a <title> (the tooltip) that gives the
 * function, its weight and its share. Rectangles narrower than MIN_W
 * pixels are left out, as flamegraph.pl does: they could not be seen.
 *
 * Interactive, as flamegraph.pl's: a small script (SCRIPT below, plain
 * ECMAScript, no library) zooms into a frame on click (its ancestors
 * stay, faded, full width), searches with a regular expression (Ctrl-F
 * or the Search button: matches turn magenta, and the share of the
 * graph they cover is shown, nested matches counted once), shows a
 * frame's details at the bottom while the pointer is on it, and Escape
 * resets both. Each frame's place is kept in data-x/data-w attributes;
 * the script recomputes rectangles and labels from them.
 *
 * Colours: a hash of the name picks one within the palette of the
 * profile's kind, so a function keeps its colour across graphs; frames
 * that greenshim writes itself ("[wait fd 7 read]", "[greenshim]") are
 * grey. A differential graph is coloured by the change instead.
 *
 * speedscope: the same stacks as a "sampled" profile, frames named once
 * in a shared table.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flame.h"

struct node {
	char *name;
	unsigned long long w[2]; /* weight: [0] the profile (or before), [1] after */
	struct node *child, *sibling;
};

static void *xalloc(void *p)
{
	if (p == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

static struct node *node_new(const char *name, size_t len)
{
	struct node *n = xalloc(calloc(1, sizeof *n));

	n->name = xalloc(strndup(name, len));
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

/* Adds in's stacks to the tree under root, in weight slot which. */
static void read_folded(FILE *in, struct node *root, int which)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, in)) > 0) {
		char *sp = strrchr(line, ' ');
		unsigned long long w;
		struct node *n = root;

		if (sp == NULL)
			continue;
		w = strtoull(sp + 1, NULL, 10);
		if (w == 0)
			continue;
		*sp = '\0';
		root->w[which] += w;
		for (const char *p = line; *p != '\0';) {
			size_t flen = strcspn(p, ";");

			n = child_of(n, p, flen);
			n->w[which] += w;
			p += flen;
			if (*p == ';')
				p++;
		}
	}
	free(line);
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(struct node *const *)a)->name, (*(struct node *const *)b)->name);
}

static void sort_tree(struct node *n)
{
	size_t count = 0, k = 0;
	struct node **v;

	for (struct node *c = n->child; c != NULL; c = c->sibling)
		count++;
	if (count == 0)
		return;
	v = xalloc(calloc(count, sizeof *v));
	for (struct node *c = n->child; c != NULL; c = c->sibling)
		v[k++] = c;
	qsort(v, count, sizeof *v, by_name);
	for (k = 0; k < count; k++) {
		v[k]->sibling = k + 1 < count ? v[k + 1] : NULL;
		sort_tree(v[k]);
	}
	n->child = v[0];
	free(v);
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
#define TOP 40.0    /* the title and the buttons */
#define BOTTOM 24.0 /* the details line */
#define CHAR_W 7.0  /* at font-size 12 */
#define MIN_W 0.1

/* Zoom, search and details (the head of this file). */
static const char SCRIPT[] =
	"var W = 1200, PAD = 10, CW = 7, frames, details, matched, unzoomBtn, unsearchBtn;\n"
	"function init() {\n"
	"  frames = document.getElementById('frames');\n"
	"  details = document.getElementById('details');\n"
	"  matched = document.getElementById('matched');\n"
	"  unzoomBtn = document.getElementById('unzoom');\n"
	"  unsearchBtn = document.getElementById('unsearch');\n"
	"  frames.addEventListener('click', function (e) { var g = frameOf(e.target); if (g) zoom(g); });\n"
	"  frames.addEventListener('mouseover', function (e) {\n"
	"    var g = frameOf(e.target);\n"
	"    if (g) details.textContent = g.getElementsByTagName('title')[0].textContent;\n"
	"  });\n"
	"  frames.addEventListener('mouseout', function () { details.textContent = ' '; });\n"
	"  document.addEventListener('keydown', function (e) {\n"
	"    if ((e.ctrlKey || e.metaKey) && e.key === 'f') { e.preventDefault(); searchPrompt(); }\n"
	"    else if (e.key === 'Escape') { unzoom(); unsearch(); }\n"
	"  });\n"
	"}\n"
	"function frameOf(t) {\n"
	"  for (; t && t !== frames; t = t.parentNode)\n"
	"    if (t.getAttribute && t.getAttribute('class') === 'f') return t;\n"
	"  return null;\n"
	"}\n"
	"function all() { return frames.getElementsByTagName('g'); }\n"
	"function num(e, a) { return parseFloat(e.getAttribute(a)); }\n"
	"function rectOf(g) { return g.getElementsByTagName('rect')[0]; }\n"
	"function nameOf(g) {\n"
	"  var t = g.getElementsByTagName('title')[0].textContent, i = t.lastIndexOf(' (');\n"
	"  return i > 0 ? t.substring(0, i) : t;\n"
	"}\n"
	"function place(g, x, w) {\n"
	"  var r = rectOf(g), t = g.getElementsByTagName('text')[0], n = nameOf(g);\n"
	"  var fit = Math.floor((w - 4) / CW);\n"
	"  r.setAttribute('x', x.toFixed(2));\n"
	"  r.setAttribute('width', w.toFixed(2));\n"
	"  t.setAttribute('x', (x + 3).toFixed(2));\n"
	"  t.textContent = w < 3 * CW ? '' : n.length <= fit ? n : n.substring(0, Math.max(fit - 2, 0)) + '..';\n"
	"}\n"
	"function zoom(g) {\n"
	"  var x0 = num(g, 'data-x'), w0 = num(g, 'data-w'), y0 = num(rectOf(g), 'y');\n"
	"  var ratio = (W - 2 * PAD) / w0, fs = all(), eps = 1e-6;\n"
	"  for (var i = 0; i < fs.length; i++) {\n"
	"    var f = fs[i], x = num(f, 'data-x'), w = num(f, 'data-w'), y = num(rectOf(f), 'y');\n"
	"    if (y > y0 && x <= x0 + eps && x + w >= x0 + w0 - eps) {\n"
	"      f.style.display = ''; f.style.opacity = '0.5'; place(f, PAD, W - 2 * PAD);\n"
	"    } else if (y <= y0 && x >= x0 - eps && x + w <= x0 + w0 + eps) {\n"
	"      f.style.display = ''; f.style.opacity = ''; place(f, PAD + (x - x0) * ratio, w * ratio);\n"
	"    } else {\n"
	"      f.style.display = 'none';\n"
	"    }\n"
	"  }\n"
	"  unzoomBtn.style.display = '';\n"
	"}\n"
	"function unzoom() {\n"
	"  var fs = all();\n"
	"  for (var i = 0; i < fs.length; i++) {\n"
	"    fs[i].style.display = ''; fs[i].style.opacity = '';\n"
	"    place(fs[i], num(fs[i], 'data-x'), num(fs[i], 'data-w'));\n"
	"  }\n"
	"  unzoomBtn.style.display = 'none';\n"
	"}\n"
	"function searchPrompt() {\n"
	"  var t = prompt('Search for frames (a regular expression)', '');\n"
	"  if (t) search(t);\n"
	"}\n"
	"function search(term) {\n"
	"  var re, fs = all(), spans = [], sum = 0, end = -1;\n"
	"  try { re = new RegExp(term); } catch (e) { alert(e); return; }\n"
	"  for (var i = 0; i < fs.length; i++) {\n"
	"    var r = rectOf(fs[i]), x = num(fs[i], 'data-x');\n"
	"    if (!r.hasAttribute('data-fill')) r.setAttribute('data-fill', r.getAttribute('fill'));\n"
	"    if (re.test(nameOf(fs[i]))) {\n"
	"      r.setAttribute('fill', 'rgb(230,0,230)');\n"
	"      spans.push([x, x + num(fs[i], 'data-w')]);\n"
	"    } else {\n"
	"      r.setAttribute('fill', r.getAttribute('data-fill'));\n"
	"    }\n"
	"  }\n"
	"  spans.sort(function (a, b) { return a[0] - b[0]; });\n"
	"  for (var k = 0; k < spans.length; k++) {\n"
	"    if (spans[k][0] >= end) { sum += spans[k][1] - spans[k][0]; end = spans[k][1]; }\n"
	"    else if (spans[k][1] > end) { sum += spans[k][1] - end; end = spans[k][1]; }\n"
	"  }\n"
	"  matched.textContent = 'Matched: ' + (100 * sum / (W - 2 * PAD)).toFixed(1) + '%';\n"
	"  unsearchBtn.style.display = '';\n"
	"  return sum / (W - 2 * PAD);\n"
	"}\n"
	"function unsearch() {\n"
	"  var fs = all();\n"
	"  for (var i = 0; i < fs.length; i++) {\n"
	"    var r = rectOf(fs[i]);\n"
	"    if (r.hasAttribute('data-fill')) r.setAttribute('fill', r.getAttribute('data-fill'));\n"
	"  }\n"
	"  matched.textContent = ' ';\n"
	"  unsearchBtn.style.display = 'none';\n"
	"}\n";

struct layout {
	FILE *out;
	double scale; /* pixels per unit of weight */
	double height;
	unsigned long long total[2];
	const char *unit, *palette;
	int w;           /* the weight slot that sets widths */
	double max_diff; /* diff: the largest change of share, for the colours */
};

static unsigned name_hash(const char *s)
{
	unsigned h = 5381;

	for (; *s != '\0'; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

static double share(const struct layout *l, const struct node *n, int k)
{
	return l->total[k] ? (double)n->w[k] / (double)l->total[k] : 0;
}

static void colour(const struct layout *l, const struct node *n, unsigned rgb[3])
{
	unsigned h = name_hash(n->name);

	if (l->w == 1) { /* differential: white to red (grew) or blue (shrank) */
		double d = share(l, n, 1) - share(l, n, 0);
		double t = l->max_diff > 0 ? fabs(d) / l->max_diff : 0;
		unsigned c = (unsigned)(255 - 200 * t);

		rgb[0] = d > 0 ? 255 : c;
		rgb[1] = c;
		rgb[2] = d < 0 ? 255 : c;
	} else if (n->name[0] == '[') { /* greenshim's own label */
		rgb[0] = rgb[1] = rgb[2] = 170 + h % 30;
	} else if (strcmp(l->palette, "wait") == 0) {
		rgb[0] = 60 + h % 60;
		rgb[1] = 110 + (h / 60) % 80;
		rgb[2] = 190 + (h / 7) % 60;
	} else if (strcmp(l->palette, "lock") == 0) {
		rgb[0] = 150 + h % 70;
		rgb[1] = 90 + (h / 70) % 60;
		rgb[2] = 190 + (h / 7) % 60;
	} else {
		rgb[0] = 200 + h % 55;
		rgb[1] = 80 + (h / 55) % 120;
		rgb[2] = 40 + (h / 7) % 40;
	}
}

static void max_diff(struct layout *l, const struct node *n)
{
	double d = fabs(share(l, n, 1) - share(l, n, 0));

	if (d > l->max_diff)
		l->max_diff = d;
	for (const struct node *c = n->child; c != NULL; c = c->sibling)
		max_diff(l, c);
}

static void label(const struct layout *l, const struct node *n, double w)
{
	size_t fit = w > 4 ? (size_t)((w - 4) / CHAR_W) : 0;

	if (w < 3 * CHAR_W)
		return;
	if (strlen(n->name) <= fit) {
		xml_text(l->out, n->name, fit);
	} else {
		xml_text(l->out, n->name, fit > 2 ? fit - 2 : 0);
		fputs("..", l->out);
	}
}

static void draw(struct layout *l, const struct node *n, double x, int level)
{
	double w = (double)n->w[l->w] * l->scale;
	double y = l->height - BOTTOM - ROW * (level + 1);
	double cx = x;
	unsigned rgb[3];

	if (w < MIN_W)
		return;
	colour(l, n, rgb);
	fprintf(l->out, "<g class=\"f\" data-x=\"%.3f\" data-w=\"%.3f\"><title>", x, w);
	xml_text(l->out, n->name, 4000);
	if (l->w == 1)
		fprintf(l->out, " (%llu %s, %.2f%%; before %llu %s, %.2f%%; %+.2f points)", n->w[1],
			l->unit, 100 * share(l, n, 1), n->w[0], l->unit, 100 * share(l, n, 0),
			100 * (share(l, n, 1) - share(l, n, 0)));
	else
		fprintf(l->out, " (%llu %s, %.2f%%)", n->w[0], l->unit, 100 * share(l, n, 0));
	fprintf(l->out,
		"</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
		"fill=\"rgb(%u,%u,%u)\" rx=\"2\"/><text x=\"%.2f\" y=\"%.1f\">",
		x, y, w, ROW - 1, rgb[0], rgb[1], rgb[2], x + 3, y + ROW - 4);
	label(l, n, w);
	fputs("</text></g>\n", l->out);
	for (const struct node *c = n->child; c != NULL; c = c->sibling) {
		draw(l, c, cx, level + 1);
		cx += (double)c->w[l->w] * l->scale;
	}
}

static int write_svg(struct layout *l, struct node *root, const char *title)
{
	FILE *out = l->out;

	sort_tree(root);
	l->total[0] = root->w[0];
	l->total[1] = root->w[1];
	l->height = ROW * depth_of(root) + TOP + BOTTOM;
	l->scale = root->w[l->w] > 0 ? (WIDTH - 2 * PAD) / (double)root->w[l->w] : 0;
	if (l->w == 1)
		max_diff(l, root);
	fprintf(out,
		"<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" onload=\"init()\" "
		"xmlns=\"http://www.w3.org/2000/svg\" font-family=\"monospace\" font-size=\"12\">\n"
		"<style>.f:hover rect { stroke: black; stroke-width: 0.5; cursor: pointer; }\n"
		"text { pointer-events: none; } .btn { pointer-events: all; cursor: pointer; "
		"fill: #1a5fb4; }</style>\n"
		"<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n"
		"<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#fdfdf5\"/>\n"
		"<text x=\"%.0f\" y=\"20\" font-size=\"15\" text-anchor=\"middle\">",
		WIDTH, l->height, SCRIPT, WIDTH / 2);
	xml_text(out, title, 300);
	fprintf(out,
		"</text>\n"
		"<text id=\"unzoom\" class=\"btn\" x=\"%.0f\" y=\"20\" style=\"display:none\" "
		"onclick=\"unzoom()\">Reset zoom</text>\n"
		"<text id=\"search\" class=\"btn\" x=\"%.0f\" y=\"20\" text-anchor=\"end\" "
		"onclick=\"searchPrompt()\">Search</text>\n"
		"<text id=\"unsearch\" class=\"btn\" x=\"%.0f\" y=\"20\" text-anchor=\"end\" "
		"style=\"display:none\" onclick=\"unsearch()\">Reset search</text>\n"
		"<text id=\"details\" x=\"%.0f\" y=\"%.0f\"> </text>\n"
		"<text id=\"matched\" x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\"> </text>\n"
		"<g id=\"frames\">\n",
		PAD, WIDTH - PAD, WIDTH - PAD - 70, PAD, l->height - 7, WIDTH - PAD,
		l->height - 7);
	if (root->w[l->w] > 0)
		draw(l, root, PAD, 0);
	fputs("</g>\n</svg>\n", out);
	node_free(root);
	return ferror(out) ? -1 : 0;
}

int flame_svg(FILE *in, FILE *out, const char *title, const char *unit, const char *palette)
{
	struct node *root = node_new("all", 3);
	struct layout l = { .out = out, .unit = unit, .palette = palette, .w = 0 };

	read_folded(in, root, 0);
	return write_svg(&l, root, title);
}

int flame_diff_svg(FILE *before, FILE *after, FILE *out, const char *title, const char *unit)
{
	struct node *root = node_new("all", 3);
	struct layout l = { .out = out, .unit = unit, .palette = "", .w = 1 };

	read_folded(before, root, 0);
	read_folded(after, root, 1);
	return write_svg(&l, root, title);
}

/* ---- speedscope ------------------------------------------------------------ */

static void json_string(FILE *out, const char *s, size_t len)
{
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

struct names {
	char **name;
	size_t n, cap;    /* in order of first use: the frame table */
	size_t *slot;     /* open addressing: index + 1, 0 free */
	size_t slots;
};

static size_t name_index(struct names *t, const char *s, size_t len)
{
	size_t h;

	if (2 * (t->n + 1) > t->slots) {
		size_t slots = t->slots ? 2 * t->slots : 1024;
		size_t *slot = xalloc(calloc(slots, sizeof *slot));

		for (size_t k = 0; k < t->n; k++) {
			h = name_hash(t->name[k]) % slots;
			while (slot[h] != 0)
				h = (h + 1) % slots;
			slot[h] = k + 1;
		}
		free(t->slot);
		t->slot = slot;
		t->slots = slots;
	}
	{
		char *key = xalloc(strndup(s, len));

		for (h = name_hash(key) % t->slots; t->slot[h] != 0; h = (h + 1) % t->slots)
			if (strcmp(t->name[t->slot[h] - 1], key) == 0) {
				free(key);
				return t->slot[h] - 1;
			}
		if (t->n == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 256;
			t->name = xalloc(realloc(t->name, t->cap * sizeof *t->name));
		}
		t->name[t->n] = key;
		t->slot[h] = t->n + 1;
		return t->n++;
	}
}

int flame_speedscope(FILE *in, FILE *out, const char *name, const char *unit)
{
	struct names t = { 0 };
	char *line = NULL;
	size_t cap = 0, nsamples = 0;
	ssize_t len;
	unsigned long long total = 0;
	FILE *samples = tmpfile(), *weights = tmpfile();
	int c;

	if (samples == NULL || weights == NULL) {
		fprintf(stderr, "tmpfile: out of room\n");
		exit(1);
	}
	while ((len = getline(&line, &cap, in)) > 0) {
		char *sp = strrchr(line, ' ');
		unsigned long long w;
		int first = 1;

		if (sp == NULL || (w = strtoull(sp + 1, NULL, 10)) == 0)
			continue;
		*sp = '\0';
		fprintf(samples, "%s[", nsamples ? "," : "");
		for (const char *p = line; *p != '\0';) {
			size_t flen = strcspn(p, ";");

			fprintf(samples, "%s%zu", first ? "" : ",", name_index(&t, p, flen));
			first = 0;
			p += flen;
			if (*p == ';')
				p++;
		}
		fputc(']', samples);
		fprintf(weights, "%s%llu", nsamples ? "," : "", w);
		total += w;
		nsamples++;
	}
	free(line);
	fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
	      "\"exporter\":\"greenshim\",\"name\":", out);
	json_string(out, name, strlen(name));
	fputs(",\"activeProfileIndex\":0,\"shared\":{\"frames\":[", out);
	for (size_t k = 0; k < t.n; k++) {
		fputs(k ? ",{\"name\":" : "{\"name\":", out);
		json_string(out, t.name[k], strlen(t.name[k]));
		fputc('}', out);
		free(t.name[k]);
	}
	fputs("]},\"profiles\":[{\"type\":\"sampled\",\"name\":", out);
	json_string(out, name, strlen(name));
	fprintf(out, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%llu,\"samples\":[", unit,
		total);
	rewind(samples);
	while ((c = getc(samples)) != EOF)
		putc(c, out);
	fputs("],\"weights\":[", out);
	rewind(weights);
	while ((c = getc(weights)) != EOF)
		putc(c, out);
	fputs("]}]}\n", out);
	fclose(samples);
	fclose(weights);
	free(t.name);
	free(t.slot);
	return ferror(out) ? -1 : 0;
}
