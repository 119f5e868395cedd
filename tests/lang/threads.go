// Go (gccgo: goroutines on the runtime's own threads, switched with
// makecontext/swapcontext, every signal handled on an alternate stack,
// children forked with raw system calls), with no knowledge of greenshim:
// goroutines, channels, a mutex, sleeps, a ticker beside a computing
// goroutine, net/http in one process, os/exec, a signal through
// os/signal, and collections. Prints "ok" last when every check holds.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func check(ok bool, format string, args ...interface{}) {
	if !ok {
		fmt.Printf("FAIL: "+format+"\n", args...)
		os.Exit(1)
	}
}

func goroutines() {
	var wg sync.WaitGroup
	var sum int64
	for i := 0; i < 5000; i++ {
		wg.Add(1)
		go func(i int) { defer wg.Done(); atomic.AddInt64(&sum, int64(i)) }(i)
	}
	wg.Wait()
	check(sum == 5000*4999/2, "goroutines: sum %d", sum)
}

func pipeline() {
	first := make(chan int)
	in := first
	for i := 0; i < 500; i++ {
		out := make(chan int)
		go func(in, out chan int) {
			for v := range in {
				out <- v + 1
			}
			close(out)
		}(in, out)
		in = out
	}
	go func() {
		for i := 0; i < 200; i++ {
			first <- i
		}
		close(first)
	}()
	total := 0
	for v := range in {
		total += v
	}
	check(total == 200*199/2+200*500, "pipeline: total %d", total)
}

func mutex() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	n := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	check(n == 800000, "mutex: count %d", n)
}

func sleeps() {
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < 100; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	check(time.Since(start) < 3*time.Second, "sleeps: took %v", time.Since(start))
}

// A ticker keeps ticking beside a goroutine that computes for 500 ms
// (natively some 50 ticks; a program that never gives its threads back
// gets none).
func tickerBesideComputing() {
	var stop int32
	done := make(chan uint64)
	go func() {
		x := uint64(1)
		for atomic.LoadInt32(&stop) == 0 {
			for i := 0; i < 1000; i++ {
				x = x*6364136223846793005 + uint64(i)
			}
		}
		done <- x
	}()
	t := time.NewTicker(10 * time.Millisecond)
	ticks := 0
	deadline := time.After(500 * time.Millisecond)
loop:
	for {
		select {
		case <-t.C:
			ticks++
		case <-deadline:
			break loop
		}
	}
	t.Stop()
	atomic.StoreInt32(&stop, 1)
	<-done
	check(ticks >= 20, "ticker beside a computing goroutine: %d ticks in 500 ms", ticks)
}

func httpInProcess() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err == nil, "listen: %v", err)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write([]byte(strings.ToUpper(string(b))))
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	url := "http://" + ln.Addr().String() + "/"
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	var good int64
	for c := 0; c < 20; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				body := fmt.Sprintf("client %d request %d", c, i)
				r, err := client.Post(url, "text/plain", strings.NewReader(body))
				if err != nil {
					continue
				}
				b, _ := io.ReadAll(r.Body)
				r.Body.Close()
				if string(b) == strings.ToUpper(body) {
					atomic.AddInt64(&good, 1)
				}
			}
		}(c)
	}
	wg.Wait()
	srv.Close()
	check(good == 500, "http: %d of 500 answers right", good)
}

func children() {
	for i := 0; i < 10; i++ {
		out, err := exec.Command("echo", "hi", fmt.Sprint(i)).Output()
		check(err == nil && string(out) == fmt.Sprintf("hi %d\n", i), "exec: %q %v", out, err)
	}
	err := exec.Command("sh", "-c", "exit 3").Run()
	ee, isExit := err.(*exec.ExitError)
	check(isExit && ee.ExitCode() == 3, "exec: exit 3 gave %v", err)
}

func signals() {
	c := make(chan os.Signal, 4)
	signal.Notify(c, syscall.SIGUSR1)
	for i := 0; i < 3; i++ {
		check(syscall.Kill(os.Getpid(), syscall.SIGUSR1) == nil, "kill")
		select {
		case s := <-c:
			check(s == syscall.SIGUSR1, "signal: got %v", s)
		case <-time.After(5 * time.Second):
			check(false, "signal: SIGUSR1 %d not delivered", i)
		}
	}
	signal.Stop(c)
}

func collections() {
	var wg sync.WaitGroup
	var kept int64
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var keep [][]byte
			for i := 0; i < 20000; i++ {
				b := make([]byte, 1024)
				b[0] = byte(i)
				if i%10 == 0 {
					keep = append(keep, b)
				}
			}
			atomic.AddInt64(&kept, int64(len(keep)))
		}()
	}
	wg.Wait()
	runtime.GC()
	check(kept == 8000, "collections: kept %d", kept)
}

func main() {
	runtime.GOMAXPROCS(2)
	goroutines()
	pipeline()
	mutex()
	sleeps()
	tickerBesideComputing()
	httpInProcess()
	children()
	signals()
	collections()
	fmt.Println("ok")
}
