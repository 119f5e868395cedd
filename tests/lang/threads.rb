# Ruby threads (each a pthread in CRuby, whose current execution context
# is a __thread variable): Thread.new with thread-local variables, a
# Queue between producer and consumers, Mutex and ConditionVariable; a
# thread whose C stack overflows (Marshal of a deeply nested array), which
# CRuby's SIGSEGV handler, on each thread's own alternate stack, turns into
# SystemStackError, after threads that set theirs have ended and been
# collected. Prints "ok", exits 0.
results = Queue.new
threads = 8.times.map do |i|
  Thread.new(i) do |n|
    Thread.current[:mine] = n
    Thread.current.thread_variable_set(:var, n * 10)
    sleep 0.002
    sum = 0
    20_000.times { |k| sum += k % (n + 1) }
    raise "thread-local lost" unless Thread.current[:mine] == n
    raise "thread variable lost" unless Thread.current.thread_variable_get(:var) == n * 10
    results << [n, sum]
  end
end
threads.each(&:join)
got = 8.times.map { results.pop }.sort
expect = 8.times.map { |n| [n, 20_000.times.sum { |k| k % (n + 1) }] }
raise "results #{got.inspect}" unless got == expect

q = Queue.new
consumers = 4.times.map { Thread.new { c = 0; while (x = q.pop) != :done; c += x; end; c } }
1000.times { |i| q << i }
4.times { q << :done }
total = consumers.map(&:value).sum
raise "queue total #{total}" unless total == 1000 * 999 / 2

m = Mutex.new
cv = ConditionVariable.new
ready = false
waiter = Thread.new { m.synchronize { cv.wait(m) until ready; :woken } }
sleep 0.01
m.synchronize { ready = true; cv.signal }
raise "condvar" unless waiter.value == :woken

8.times.map { Thread.new { 1 } }.each(&:join)
GC.start
deep = []
200_000.times { deep = [deep] }
overflow = Thread.new do
  Marshal.dump(deep)
  :no_overflow
rescue SystemStackError
  :system_stack_error
end
raise "deep Marshal.dump: #{overflow.value}" unless overflow.value == :system_stack_error
puts "ok"
