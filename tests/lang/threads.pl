#!/usr/bin/perl
# Perl's interpreter threads (each a pthread with an interpreter of its
# own), knowing nothing of greenshim: Thread::Queue between workers,
# shared data under lock with cond_wait and cond_timedwait, and System V
# message queues and semaphores (IPC::Msg, IPC::Semaphore) that a thread
# waits in for a message or a post another thread makes later. Prints the
# results and "ok" last; natively and under greenshim the same.
use strict;
use warnings;
use threads;
use threads::shared;
use Thread::Queue;
use IPC::SysV qw(IPC_PRIVATE IPC_CREAT S_IRUSR S_IWUSR IPC_NOWAIT);
use IPC::Msg;
use IPC::Semaphore;
use Time::HiRes qw(sleep time);

$| = 1;
my $fail = 0;
sub check { my ($what, $ok) = @_; print "$what: ", ($ok ? "yes" : "NO"), "\n"; $fail++ unless $ok; }

# Workers fed through a queue, results through another.
my $work = Thread::Queue->new;
my $done = Thread::Queue->new;
my @workers = map {
	threads->create(sub {
		while (defined(my $n = $work->dequeue)) {
			my $s = 0;
			$s += $_ for 1 .. $n;
			$done->enqueue($s);
		}
	});
} 1 .. 4;
$work->enqueue($_ * 1000) for 1 .. 40;
$work->end;
my $sum = 0;
$sum += $done->dequeue for 1 .. 40;
$_->join for @workers;
check("queue workers summed", $sum == eval { my $t = 0; $t += $_ * 1000 * ($_ * 1000 + 1) / 2 for 1 .. 40; $t });

# A shared flag under lock: cond_wait for it, cond_timedwait that times out.
my $flag : shared = 0;
my $setter = threads->create(sub { sleep 0.03; lock($flag); $flag = 1; cond_signal($flag); });
{
	lock($flag);
	cond_wait($flag) until $flag;
}
$setter->join;
check("cond_wait saw the flag", $flag == 1);
{
	my $t0 = time;
	lock($flag);
	my $r = cond_timedwait($flag, time + 0.05);
	check("cond_timedwait timed out after 50 ms", !$r && time - $t0 >= 0.045);
}

# System V: a message queue and a semaphore waited in by main.
my $ticks : shared = 0;
my $ticking : shared = 1;
my $ticker = threads->create(sub { while ($ticking) { sleep 0.001; $ticks++; } });
# The sender and the poster act once 30 ms passed and the ticker ticked
# three times: main, waiting meanwhile, sees those ticks whatever the
# load; where its wait held the only OS thread, they would never come.
sub later {
	my ($start, $t0) = ($ticks, time);
	sleep 0.001 while time - $t0 < 0.03 || $ticks - $start < 3;
}
my $msg = IPC::Msg->new(IPC_PRIVATE, S_IRUSR | S_IWUSR) or die "msgget: $!";
my $before = $ticks;
my $sender = threads->create(sub { later(); $msg->snd(7, "hello") or die "msgsnd: $!"; });
my $buf;
my $r = $msg->rcv($buf, 64);
$sender->join;
check("msgrcv got type 7 hello", defined $r && $r == 7 && $buf eq "hello");
check("msgrcv: the ticker ran meanwhile", $ticks - $before >= 3);
check("msgrcv IPC_NOWAIT on empty fails", !defined $msg->rcv($buf, 64, 0, IPC_NOWAIT));

my $sem = IPC::Semaphore->new(IPC_PRIVATE, 1, S_IRUSR | S_IWUSR) or die "semget: $!";
$before = $ticks;
my $poster = threads->create(sub { later(); $sem->op(0, 1, 0) or die "semop: $!"; });
my $ok = $sem->op(0, -1, 0);
$poster->join;
check("semop -1 waited for the post", $ok && $sem->getval(0) == 0);
check("semop: the ticker ran meanwhile", $ticks - $before >= 3);
$ticking = 0;
$ticker->join;
$msg->remove;
$sem->remove;
print $fail ? "failed $fail\n" : "ok\n";
