// Rust std's threads: spawn, scoped threads, mpsc channels, park/unpark,
// thread names, thread_local!, a thread-per-connection TCP echo server
// with 500 clients, every byte checked, and CPU affinity per thread.
// Prints "ok", exits 0.
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

thread_local!(static MINE: Cell<u64> = Cell::new(0));

fn main() {
    // spawn + join, thread_local! per thread, names
    let handles: Vec<_> = (0..8u64)
        .map(|i| {
            thread::Builder::new()
                .name(format!("worker-{}", i))
                .spawn(move || {
                    assert_eq!(MINE.with(|m| m.get()), 0);
                    MINE.with(|m| m.set(i + 1));
                    thread::sleep(Duration::from_millis(2));
                    assert_eq!(MINE.with(|m| m.get()), i + 1);
                    let name = thread::current().name().map(String::from);
                    assert_eq!(name, Some(format!("worker-{}", i)));
                    i * 2
                })
                .unwrap()
        })
        .collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, (0..8).map(|i| i * 2).sum());

    // scoped threads borrowing the caller's data
    let mut data = vec![1u64; 64];
    thread::scope(|s| {
        for chunk in data.chunks_mut(8) {
            s.spawn(move || {
                for x in chunk.iter_mut() {
                    *x *= 3;
                }
            });
        }
    });
    assert!(data.iter().all(|&x| x == 3));

    // mpsc
    let (tx, rx) = mpsc::channel();
    for i in 0..4u64 {
        let tx = tx.clone();
        thread::spawn(move || {
            for j in 0..100u64 {
                tx.send(i * 1000 + j).unwrap();
            }
        });
    }
    drop(tx);
    assert_eq!(rx.iter().count(), 400);

    // park / unpark
    let flag = Arc::new(AtomicBool::new(false));
    let f2 = flag.clone();
    let parked = thread::spawn(move || {
        while !f2.load(Ordering::Acquire) {
            thread::park();
        }
    });
    thread::sleep(Duration::from_millis(5));
    flag.store(true, Ordering::Release);
    parked.thread().unpark();
    parked.join().unwrap();

    // thread-per-connection echo, 500 clients
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let mut conn = conn.unwrap();
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    let n = conn.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    conn.write_all(&buf[..n]).unwrap();
                }
            });
        }
    });
    let clients: Vec<_> = (0..500u32)
        .map(|c| {
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                let msg: Vec<u8> = (0..10_000u32).map(|k| ((k * 31 + c) % 251) as u8).collect();
                let mut back = vec![0u8; msg.len()];
                for _ in 0..3 {
                    s.write_all(&msg).unwrap();
                    s.read_exact(&mut back).unwrap();
                    assert!(back == msg);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }

    // CPU affinity per thread (glibc's calls, as the libc crate would
    // make them): a thread's mask is its own, and threads made after the
    // main thread pinned itself inherit its mask, which is what
    // available_parallelism counts.
    let all = affinity(0);
    let first = (0..1024).find(|&c| all[c / 64] >> (c % 64) & 1 == 1).unwrap();
    let last = (0..1024).rev().find(|&c| all[c / 64] >> (c % 64) & 1 == 1).unwrap();
    let pinned = thread::spawn(move || {
        set_affinity(first);
        affinity(0)
    })
    .join()
    .unwrap();
    assert_eq!(pinned, one_cpu(first));
    assert_eq!(affinity(0), all);
    set_affinity(last);
    let counts: Vec<usize> = (0..4)
        .map(|_| thread::spawn(|| thread::available_parallelism().unwrap().get()))
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(counts, vec![1, 1, 1, 1]);
    println!("ok");
}

extern "C" {
    fn sched_setaffinity(pid: i32, size: usize, set: *const u64) -> i32;
    fn sched_getaffinity(pid: i32, size: usize, set: *mut u64) -> i32;
}

fn one_cpu(cpu: usize) -> [u64; 16] {
    let mut set = [0u64; 16];
    set[cpu / 64] |= 1 << (cpu % 64);
    set
}

fn affinity(pid: i32) -> [u64; 16] {
    let mut set = [0u64; 16];
    assert_eq!(unsafe { sched_getaffinity(pid, 128, set.as_mut_ptr()) }, 0);
    set
}

fn set_affinity(cpu: usize) {
    let set = one_cpu(cpu);
    assert_eq!(unsafe { sched_setaffinity(0, 128, set.as_ptr()) }, 0);
}
