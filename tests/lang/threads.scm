;; Guile (Debian's guile-3.0, whose memory Boehm's collector manages):
;; four threads each cons 30 lists of 20,000 strings and count them,
;; collections in between; the main thread joins them, collects and
;; checks every count. Prints "ok" last.
(use-modules (ice-9 threads))

(define (build)
  (let loop ((i 0) (acc '()))
    (if (= i 20000)
        (length acc)
        (loop (+ i 1) (cons (make-string 10 #\x) acc)))))

(define (work)
  (let loop ((r 0) (sum 0))
    (if (= r 30)
        sum
        (begin
          (if (= (modulo r 10) 0) (gc))
          (loop (+ r 1) (+ sum (build)))))))

(define threads (map (lambda (k) (call-with-new-thread work)) '(1 2 3 4)))
(define counts (map join-thread threads))
(gc)
(if (equal? counts '(600000 600000 600000 600000))
    (begin (display "ok") (newline))
    (begin (display "FAIL counts ") (display counts) (newline) (exit 1)))
