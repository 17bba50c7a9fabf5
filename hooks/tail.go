package hooks

// TailBytes is how much of a hook's stdout and of its stderr the runner keeps:
// the last 64 KiB of each (book/hooks.md). Output before that is counted and dropped,
// so a hook that prints gigabytes costs the daemon a fixed amount of memory.
const TailBytes = 64 << 10

// tailBuffer is an io.Writer that keeps only the last len(buf) bytes written
// to it, in a ring allocated once. It is not safe for concurrent use; os/exec
// gives each output pipe its own copying goroutine, and Wait returning orders
// those writes before any read.
type tailBuffer struct {
	buf   []byte
	next  int   // index the next byte is written at
	total int64 // bytes ever written
}

func newTailBuffer(size int) *tailBuffer {
	return &tailBuffer{buf: make([]byte, size)}
}

// Write keeps the tail of p and never fails, so a chatty hook is never
// blocked or broken by its output being dropped.
func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	t.total += int64(n)
	size := len(t.buf)
	if size == 0 {
		return n, nil
	}
	if len(p) >= size {
		copy(t.buf, p[len(p)-size:])
		t.next = 0
		return n, nil
	}
	c := copy(t.buf[t.next:], p)
	if c < len(p) {
		copy(t.buf, p[c:])
	}
	t.next = (t.next + len(p)) % size
	return n, nil
}

// Total is the number of bytes ever written.
func (t *tailBuffer) Total() int64 { return t.total }

// Bytes returns a copy of the kept tail, oldest byte first.
func (t *tailBuffer) Bytes() []byte {
	size := int64(len(t.buf))
	if t.total < size {
		return append([]byte(nil), t.buf[:t.total]...)
	}
	out := make([]byte, 0, size)
	out = append(out, t.buf[t.next:]...)
	return append(out, t.buf[:t.next]...)
}
