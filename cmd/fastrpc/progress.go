package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// isTerminal reports whether w is a terminal, where bench shows its live
// progress line: a character device, the portable test without a
// dependency (it also holds for /dev/null, where the line is harmless).
// Tests replace it.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress is bench's live line on stderr, rewritten in place with a
// carriage return.
type progress struct {
	w        io.Writer
	calls    int64         // -n, or 0
	duration time.Duration // -z, or 0
	width    int           // of the line last drawn, to blank what a shorter one leaves
	line     []byte
}

// draw rewrites the line: calls done (of -n, or the elapsed time of -z),
// calls/s so far, errors, and the p99 of the last timeline window (-1:
// none yet).
func (p *progress) draw(calls, errs uint64, elapsed time.Duration, p99 int64) {
	var b strings.Builder
	if p.duration > 0 {
		fmt.Fprintf(&b, "%.1fs/%s  %d calls", elapsed.Seconds(), p.duration, calls)
	} else {
		fmt.Fprintf(&b, "%d/%d calls  %.1fs", calls, p.calls, elapsed.Seconds())
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(calls) / elapsed.Seconds()
	}
	fmt.Fprintf(&b, "  %.0f calls/s  %d errors  p99 ", rate, errs)
	if p99 < 0 {
		b.WriteString("-")
	} else {
		b.WriteString(fmtNs(p99))
	}
	s := b.String()
	n := len([]rune(s))
	p.line = append(p.line[:0], '\r')
	p.line = append(p.line, s...)
	if n < p.width {
		p.line = append(p.line, strings.Repeat(" ", p.width-n)...)
	}
	p.width = n
	_, _ = p.w.Write(p.line)
}

// clear blanks the line, leaving the cursor at its start for what comes
// next.
func (p *progress) clear() {
	if p.width == 0 {
		return
	}
	_, _ = io.WriteString(p.w, "\r"+strings.Repeat(" ", p.width)+"\r")
	p.width = 0
}
