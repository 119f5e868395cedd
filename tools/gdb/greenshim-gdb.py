# gdb extension for greenshim: green threads seen as threads.
#
# Under greenshim a program's threads are green threads on a few OS threads
# (one hub each), so gdb's "info threads" shows the OS threads only. This
# adds:
#
#   info green [ID...]        every green thread of every hub: id, the gdb
#                             thread (OS thread) it runs on, name, state or
#                             what it waits on, start routine
#   green ID                  select its innermost frame, as "thread N"
#                             does: frame, up, info locals, print work there
#   green                     which green thread is selected
#   green off                 back to the OS thread's own frames
#   green bt ID [BT-ARGS]     its backtrace
#   green apply all|ID... CMD CMD in each (green apply all bt)
#
# It is loaded by gdb's auto-load, from the .debug_gdb_scripts section of
# libgreenshim.so (an inline copy, the Makefile puts it there) or from the
# copy "make install" puts under gdb's auto-load directory; or by hand with
# "source". Commands, the unwinder and the frame filter are registered
# once per gdb, whichever copy came first.
#
# Finding the threads: through the table the library exports for debuggers
# (gs_debug_table, src/introspect.c), not through the DWARF types of struct
# hub and struct green. The table is in .dynsym and .data, which survive
# strip; Debian strips libraries and ships their debug info apart, which
# few machines install. It names each field it describes with its offset
# and width (so a rebuild that moves fields moves nothing here), the head
# of the registry of hubs, the state names and wait kinds introspect.c
# uses (so "info green" and "greenctl ps" word waits alike), and the frame
# ctx_switch leaves on a suspended stack (src/arch/x86_64/ctx.h). Only
# memory is read: it works the same on a live process and on a core file.
#
# Showing a suspended green thread's frames: its registers are not in any
# OS thread. gdb cannot be given a thread of our own from Python, and
# writing $sp/$pc (Go's runtime-gdb.py) works on a live process only (a
# core's registers cannot be written) and must be undone before the
# program runs on. Instead a frame unwinder claims the innermost frame of
# the OS thread the green thread's hub runs on and says that its caller's
# registers are the ones ctx_switch saved: frame #1 onward is the green
# thread's stack, unwound by gdb itself (DWARF CFI, symbols, source lines,
# locals). Frame #0 stays the OS thread's own (gdb reads it from the
# thread's registers); a frame filter leaves it out of "bt", and "green ID"
# selects frame #1. The view ends with "green off", when another thread is
# selected, and when the program runs on.
#
# Not shown: the running green thread's frames are its OS thread's (the
# "green" commands switch to that thread); a green thread's __thread
# variables and errno print the OS thread's values (gdb finds TLS through
# libthread_db, which knows only the OS thread's thread pointer).

import re
import struct
import time

import gdb
import gdb.unwinder

MAGIC = b"gsdebug\0"
VERSION = 1
MAX_GREENS = 10000000  # more than this is a corrupt list (a core)


class Missing(gdb.GdbError):
    pass


def _inferior():
    inf = gdb.selected_inferior()
    if inf is None or not inf.threads():
        raise Missing("greenshim: no process (run the program, attach to it, or open a core file)")
    return inf


def _read(addr, n):
    return _inferior().read_memory(addr, n).tobytes()


def _u64(addr):
    return struct.unpack("<Q", _read(addr, 8))[0]


def _cstring(addr, limit=4096):
    out = b""
    while len(out) < limit:
        chunk = _read(addr + len(out), 64)
        nul = chunk.find(b"\0")
        if nul >= 0:
            return (out + chunk[:nul]).decode("utf-8", "replace")
        out += chunk
    return out.decode("utf-8", "replace")


def _is_core():
    try:
        conn = gdb.selected_inferior().connection
        return conn is not None and conn.type == "core"
    except AttributeError:
        return "core dump" in gdb.execute("info target", to_string=True)


class Table:
    """gs_debug_table, read from the process: fields by name."""

    def __init__(self):
        inf = _inferior()
        try:
            addr = int(gdb.parse_and_eval("(unsigned long)&gs_debug_table"))
        except gdb.error:
            raise Missing(
                "greenshim is not loaded in this process (no symbol gs_debug_table): "
                "its threads are OS threads, see \"info threads\"")
        head = _read(addr, 40)
        magic, version, count, names, values, sizes = struct.unpack("<8sIIQQQ", head)
        if magic != MAGIC:
            raise Missing("greenshim: gs_debug_table at %#x has no magic number" % addr)
        if version != VERSION:
            raise Missing("greenshim: this extension reads gs_debug_table version %d, the "
                          "library has version %d: use the extension from the same build"
                          % (VERSION, version))
        keys = _cstring(names, 65536).split()
        vals = struct.unpack("<%dQ" % count, _read(values, 8 * count))
        widths = _read(sizes, count)
        self.f = {k: (vals[i], widths[i]) for i, k in enumerate(keys[:count])}
        self.inf = inf
        self.state_names = [_cstring(_u64(self["state.names"] + 8 * i))
                            for i in range(self["state.count"])]
        self.wait_keys = [_cstring(_u64(self["wait.keys"] + 8 * i))
                          for i in range(self["wait.count"])]
        self.slots = _cstring(self["ctx.slot_names"]).split()

    def __getitem__(self, name):
        try:
            return self.f[name][0]
        except KeyError:
            raise Missing("greenshim: gs_debug_table has no \"%s\"" % name)

    def span(self, prefix):
        """Bytes to read to have every field of a struct."""
        return max(off + size for k, (off, size) in self.f.items()
                   if k.startswith(prefix) and size > 0)

    def field(self, buf, name, signed=False):
        off, size = self.f[name]
        if name.endswith(".name"):
            return buf[off:off + size].split(b"\0")[0].decode("utf-8", "replace")
        return int.from_bytes(buf[off:off + size], "little", signed=signed)


class Hub:
    def __init__(self, t, addr):
        buf = _read(addr, t.span("hub."))
        self.addr = addr
        self.next = t.field(buf, "hub.reg_next")
        self.all = t.field(buf, "hub.all")
        self.current = t.field(buf, "hub.current")
        self.root = t.field(buf, "hub.root")
        self.tid = t.field(buf, "hub.tid", signed=True)
        # An extra hub's root is no thread of the program (src/sched.c).
        self.idle_root = "hub.idle_root" in t.f and t.field(buf, "hub.idle_root") != 0
        self.greens = []
        self.thread = None
        for th in t.inf.threads():
            if th.ptid[1] == self.tid:
                self.thread = th


class Green:
    def __init__(self, t, hub, addr):
        buf = _read(addr, t.span("green."))
        self.addr = addr
        self.hub = hub
        self.id = t.field(buf, "green.id")
        self.name = t.field(buf, "green.name")
        self.state = t.field(buf, "green.state")
        self.flags = t.field(buf, "green.flags")
        self.start = t.field(buf, "green.start")
        self.sp = t.field(buf, "green.ctx_sp")
        self.next = t.field(buf, "green.all_next")
        self.running = self.state == t["state.running"]
        self.dead = self.state == t["state.dead"]
        self.root = (self.flags & t["flag.root"]) != 0
        self.wait = None
        w = t.field(buf, "green.wait")
        if self.state == t["state.parked"] and w != 0:
            wb = _read(w, t.span("wait."))
            self.wait = (t.field(wb, "wait.kind"), t.field(wb, "wait.num", signed=True),
                         t.field(wb, "wait.obj"), t.field(wb, "wait.deadline", signed=True))
        self.state_name = (t.state_names[self.state] if self.state < len(t.state_names)
                           else "?")

    def label(self):
        return "%d%s" % (self.id, ' "%s"' % self.name if self.name else "")

    def registers(self, t):
        """The registers ctx_switch saved, and the stack pointer after it."""
        words = struct.unpack("<%dQ" % len(t.slots), _read(self.sp, 8 * len(t.slots)))
        regs = {name: words[i] for i, name in enumerate(t.slots) if name != "-"}
        regs["rsp"] = self.sp + 8 * t["ctx.slots"]
        return regs


def scan():
    """Every hub, oldest first, with its live green threads by id."""
    t = Table()
    _symbols.clear()
    hubs, seen = [], set()
    addr = _u64(t["hubs"])
    while addr != 0 and addr not in seen:
        seen.add(addr)
        h = Hub(t, addr)
        hubs.append(h)
        addr = h.next
    hubs.reverse()
    for h in hubs:
        g = h.all
        while g != 0 and g not in seen and len(seen) < MAX_GREENS:
            seen.add(g)
            try:
                x = Green(t, h, g)
            except gdb.MemoryError:
                gdb.write("greenshim: hub of LWP %d: green thread at %#x cannot be read; "
                          "its list ends there (a core or a list caught mid-update)\n"
                          % (h.tid, g))
                break
            if not x.dead and not (x.root and h.idle_root):
                h.greens.append(x)
            g = x.next
        h.greens.sort(key=lambda x: x.id)
    return t, hubs


def describe(t, g, by_addr):
    """What g does, in introspect_describe's words (src/introspect.c)."""
    if g.wait is None:
        return g.state_name
    kind, num, obj, deadline = g.wait
    key = t.wait_keys[kind] if kind < len(t.wait_keys) else "?"
    other = None
    if key == "mutex":
        other = by_addr.get(_u64(obj + t["mutex.owner"])) if obj else None
    elif key == "join":
        other = by_addr.get(obj)
    who = "thread " + other.label() if other else ""
    if key in ("fd_read", "fd_write"):
        s = "waiting on fd %d (%s)" % (num, "read" if key == "fd_read" else "write")
    elif key == "poll":
        s = "waiting on %d fd%s (poll)" % (num, "" if num == 1 else "s")
    elif key == "mutex":
        if other is None:
            s = "waiting on mutex %#x" % obj
        elif other is g:
            s = "waiting on mutex %#x, which it holds itself" % obj
        else:
            s = "waiting on mutex %#x held by %s" % (obj, who)
    elif key == "join":
        s = "waiting for %s to end (join)" % (who or "a thread")
    elif key == "child":
        s = ("waiting for a child process" if num < 0
             else "waiting for child process %d" % num)
    elif key == "sleep":
        s = "sleeping"
    elif key == "pool":
        s = "waiting for a pool worker (call %#x)" % obj
    elif key == "signal":
        s = "waiting for a signal"
    elif key == "other":
        s = "waiting"
    else:
        s = "waiting on %s %#x" % (key, obj)
    # A core has no "now" to count from.
    if deadline != t["deadline.none"] and not _is_core():
        left = max(deadline - time.monotonic_ns(), 0)
        s += " (%.3f s left)" % (left / 1e9)
    return s


_symbols = {}


def symbol(pc):
    if pc == 0:
        return "-"
    if pc not in _symbols:
        _symbols[pc] = _symbol(pc)
    return _symbols[pc]


def _symbol(pc):
    try:
        out = gdb.execute("info symbol %#x" % pc, to_string=True).strip()
    except gdb.error:
        return "%#x" % pc
    m = re.match(r"(\S+)( \+ \d+)? in section", out)
    return m.group(1) if m else "%#x" % pc


def find(hubs, ident):
    try:
        n = int(ident, 0)
    except ValueError:
        raise gdb.GdbError("green: \"%s\" is not a green thread id (see \"info green\")" % ident)
    for h in hubs:
        for g in h.greens:
            if g.id == n:
                return g
    raise gdb.GdbError("green: no live green thread %d (see \"info green\")" % n)


# ---- the view of one suspended green thread ------------------------------


class _FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class GreenUnwinder(gdb.unwinder.Unwinder):
    """While a green thread is selected: the innermost frame of its hub's
    OS thread returns to the green thread's saved context."""

    def __init__(self):
        super().__init__("greenshim")
        self.ptid = None
        self.regs = None
        self.green = None

    def active(self):
        th = gdb.selected_thread()
        return self.regs is not None and th is not None and th.ptid == self.ptid

    def __call__(self, pending):
        if not self.active() or pending.level() != 0:
            return None
        ulong = gdb.lookup_type("unsigned long")
        # Inner to (below) the green thread's first frame, as a real
        # callee's would be: gdb stops at a frame whose caller is inner.
        fid = _FrameId(gdb.Value(self.regs["rsp"] - 8 * 16).cast(ulong),
                       pending.read_register("rip"))
        info = pending.create_unwind_info(fid)
        for name, value in self.regs.items():
            info.add_saved_register(name, gdb.Value(value).cast(ulong))
        return info


class GreenFrameFilter:
    """Leaves the OS thread's own frame #0 out of a green thread's bt."""

    def __init__(self, unwinder):
        self.name = "greenshim"
        self.priority = 100
        self.enabled = True
        self.unwinder = unwinder

    def filter(self, frames):
        if self.unwinder.active():
            next(frames, None)
        return frames


class State:
    def __init__(self):
        self.unwinder = GreenUnwinder()
        self.filter = GreenFrameFilter(self.unwinder)

    def set_view(self, g, regs, thread):
        self.unwinder.ptid = thread.ptid
        self.unwinder.regs = regs
        self.unwinder.green = g
        gdb.invalidate_cached_frames()

    def clear(self, *_):
        if self.unwinder.regs is not None:
            self.unwinder.regs = None
            self.unwinder.green = None
            gdb.invalidate_cached_frames()

    def before_prompt(self):
        th = gdb.selected_thread()
        if self.unwinder.regs is not None and (th is None or th.ptid != self.unwinder.ptid):
            self.clear()

    def view(self, t, g):
        """Shows g: its frames from #1 (suspended), or its OS thread's
        (running). Returns the frame to select."""
        th = g.hub.thread or gdb.selected_thread()
        if th is None:
            raise gdb.GdbError("green: no thread to show green thread %d in" % g.id)
        if th != gdb.selected_thread():
            th.switch()
        if g.running and g.hub.current == g.addr:
            self.clear()
            return gdb.newest_frame()
        if g.sp == 0:
            raise gdb.GdbError("green: green thread %d has no saved context" % g.id)
        regs = g.registers(t)
        if regs.get("rip") == t["ctx.start"]:
            raise gdb.GdbError("green: green thread %d has not run yet: no frames (it will "
                               "start in %s)" % (g.id, symbol(g.start)))
        self.set_view(g, regs, th)
        frame = gdb.newest_frame().older()
        if frame is None:
            self.clear()
            raise gdb.GdbError("green: cannot unwind green thread %d" % g.id)
        return frame


state = None


def header(t, g, by_addr):
    th = g.hub.thread
    return "Green thread %s (%s) on thread %s (LWP %d):" % (
        g.label(), describe(t, g, by_addr), th.num if th else "?", g.hub.tid)


class InfoGreen(gdb.Command):
    """Every green thread of every greenshim hub.
Usage: info green [ID...]
Columns: the green thread's id (the one "green ID" takes), the gdb thread
(OS thread) whose hub runs it, its name, its state or what it waits on
(greenctl ps's words), and its start routine. "*" marks the selected one."""

    def __init__(self):
        super().__init__("info green", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        t, hubs = scan()
        try:
            want = set(int(a, 0) for a in gdb.string_to_argv(arg))
        except ValueError:
            raise gdb.GdbError("Usage: info green [ID...]")
        by_addr = {g.addr: g for h in hubs for g in h.greens}
        sel = state.unwinder.green if state.unwinder.active() else None
        cur = gdb.selected_thread()
        out = ["  %-6s %-7s %-16s %-48s  %s" % ("Id", "Thread", "Name", "What", "Start")]
        for h in hubs:
            for g in h.greens:
                if want and g.id not in want:
                    continue
                if sel is not None:
                    mark = "*" if sel.id == g.id else " "
                else:
                    mark = "*" if (g.hub.current == g.addr and h.thread is not None
                                   and h.thread == cur) else " "
                start = "(OS thread's own)" if g.root else symbol(g.start)
                out.append("%s %-6d %-7s %-16s %-48s  %s" % (
                    mark, g.id, h.thread.num if h.thread else "?", g.name or "-",
                    describe(t, g, by_addr), start))
        n = sum(len(h.greens) for h in hubs)
        out.append("%d green thread%s on %d hub%s." % (n, "" if n == 1 else "s",
                                                       len(hubs), "" if len(hubs) == 1 else "s"))
        gdb.write("\n".join(out) + "\n")


class GreenCmd(gdb.Command):
    """Select a green thread (greenshim), as "thread N" selects a thread.
Usage: green ID     its innermost frame becomes the selected frame: frame,
                    up, down, info locals, print and bt work in it
       green        which green thread is selected
       green off    back to the OS thread's own frames
The view ends when the program runs on or another thread is selected."""

    def __init__(self):
        super().__init__("green", gdb.COMMAND_STACK, prefix=True)

    def invoke(self, arg, from_tty):
        arg = arg.strip()
        if arg == "off":
            state.clear()
            return
        if arg == "":
            g = state.unwinder.green if state.unwinder.active() else None
            gdb.write("No green thread selected (\"green ID\"; \"info green\" lists them).\n"
                      if g is None else "[Current green thread is %s]\n" % g.label())
            return
        t, hubs = scan()
        g = find(hubs, arg)
        by_addr = {x.addr: x for h in hubs for x in h.greens}
        frame = state.view(t, g)
        frame.select()
        gdb.write("[Switching to green thread %s]\n" % header(t, g, by_addr)[len("Green thread "):-1])
        gdb.execute("frame", to_string=False)


class Saved:
    """The selection before a "green apply": thread, frame level, view."""

    def __init__(self):
        self.thread = gdb.selected_thread()
        self.view = (state.unwinder.ptid, state.unwinder.regs, state.unwinder.green)
        try:
            self.level = gdb.selected_frame().level()
        except gdb.error:
            self.level = None

    def restore(self):
        state.unwinder.ptid, state.unwinder.regs, state.unwinder.green = self.view
        gdb.invalidate_cached_frames()
        if self.thread is not None and self.thread.is_valid():
            self.thread.switch()
        if self.level is not None:
            try:
                frame = gdb.newest_frame()
                while frame is not None and frame.level() < self.level:
                    frame = frame.older()
                if frame is not None:
                    frame.select()
            except gdb.error:
                pass


def apply(greens, command, t, by_addr):
    saved = Saved()
    try:
        for g in greens:
            gdb.write("\n%s\n" % header(t, g, by_addr))
            try:
                state.view(t, g).select()
                gdb.execute(command, from_tty=False)
            except gdb.error as e:
                gdb.write("  (%s)\n" % e)
    finally:
        saved.restore()


class GreenApply(gdb.Command):
    """Run a command in green threads.
Usage: green apply all COMMAND
       green apply ID... COMMAND
Each green thread is selected in turn (as "green ID" does), COMMAND runs,
and the selection before is restored. "green apply all bt" is the
green threads' "thread apply all bt"."""

    def __init__(self):
        super().__init__("green apply", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        words = arg.split()
        t, hubs = scan()
        every = [g for h in hubs for g in h.greens]
        by_addr = {g.addr: g for g in every}
        if words[:1] == ["all"]:
            chosen, rest = every, words[1:]
        else:
            chosen, rest = [], list(words)
            while rest and re.match(r"^(0x[0-9a-fA-F]+|\d+)$", rest[0]):
                chosen.append(find(hubs, rest.pop(0)))
        if not chosen or not rest:
            raise gdb.GdbError("Usage: green apply all|ID... COMMAND")
        apply(chosen, " ".join(rest), t, by_addr)


class GreenBt(gdb.Command):
    """Backtrace of a green thread.
Usage: green bt ID [BACKTRACE-ARGUMENTS]
The frames of a waiting green thread from where it parked, symbolized by
gdb (source lines where debug info exists); a running one's are its OS
thread's. Same as "green apply ID bt ARGS"."""

    def __init__(self):
        super().__init__("green bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        words = arg.split()
        if not words:
            raise gdb.GdbError("Usage: green bt ID [BACKTRACE-ARGUMENTS]")
        t, hubs = scan()
        by_addr = {g.addr: g for h in hubs for g in h.greens}
        apply([find(hubs, words[0])], " ".join(["bt"] + words[1:]), t, by_addr)


def on_new_objfile(event):
    """The runtime's preemption tick is a real-time signal (preempt.c:
    SIGRTMAX - 1, 63 on Linux x86-64) that arrives every 2 ms while a green
    thread runs: gdb would stop at each one."""
    name = event.new_objfile.filename or ""
    if name.rsplit("/", 1)[-1].startswith("libgreenshim.so"):
        gdb.execute("handle SIG63 nostop noprint pass", to_string=True)


def register():
    global state
    old = getattr(gdb, "_greenshim_state", None)
    if old is not None:
        state = old
        return
    state = State()
    gdb._greenshim_state = state
    gdb.unwinder.register_unwinder(None, state.unwinder, replace=True)
    gdb.frame_filters[state.filter.name] = state.filter
    gdb.events.cont.connect(state.clear)
    gdb.events.exited.connect(state.clear)
    gdb.events.before_prompt.connect(state.before_prompt)
    gdb.events.new_objfile.connect(on_new_objfile)
    for objfile in gdb.objfiles():
        on_new_objfile(type("Event", (), {"new_objfile": objfile})())
    InfoGreen()
    GreenCmd()
    GreenApply()
    GreenBt()


register()
