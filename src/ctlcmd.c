/*
 * The control socket's commands (control.c serves them): each request
 * line is answered with tab-separated records that greenctl(1) lays out,
 * then closed. The records:
 *
 *   ok  PID                                   ping
 *   error  TEXT                               anything refused
 *
 * Every answer is built on the hub's own OS thread, in its hub context
 * (control_call_hub), never by walking a hub from the control thread.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

void control_command(const char *line, struct ctl_buf *out)
{
	if (strcmp(line, "ping") == 0)
		ctl_printf(out, "ok\t%d\n", (int)getpid());
	else
		ctl_printf(out, "error\tunknown request \"%.64s\"\n", line);
}
