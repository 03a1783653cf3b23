package stream

// sequencer puts one stream's message frames in the order of its user's
// mailbox positions (events.Positioned). Frames arrive from pub/sub in
// publish order, which two workers (or a retried task) can invert; the
// sequencer writes a frame only once every smaller position was written
// or is known to be empty, drops a position it has passed (a retried
// publish, or a frame the replay already wrote), and holds frames that
// arrive ahead of a gap until the gap is filled, live or from the
// database. Frames without a position (presence, read receipts) pass.
//
// It is owned by the stream's writer goroutine: no locking.
type sequencer struct {
	// last is the highest position written; -1 until the first frame
	// when the stream's start position could not be read.
	last int64
	held map[int64]Frame
}

// admit appends to out the frames that f lets through, in order.
func (q *sequencer) admit(f Frame, out []Frame) []Frame {
	switch {
	case f.Seq == 0:
		return append(out, f)
	case q.last < 0:
		q.last = f.Seq
		return append(out, f)
	case f.Seq <= q.last:
		return out
	case f.Seq == q.last+1:
		q.last++
		return q.drain(append(out, f))
	}
	if q.held == nil {
		q.held = map[int64]Frame{}
	}
	q.held[f.Seq] = f
	return out
}

// alone reports whether admit would pass f by itself with nothing held
// (write), or drop it (!write), so f may skip the connection's queue
// (Conn.push writing directly); ok is false when f would have to wait for
// a gap. It changes nothing: after writing f, call passed.
func (q *sequencer) alone(f Frame) (write, ok bool) {
	switch {
	case len(q.held) > 0:
		return false, false
	case f.Seq == 0 || q.last < 0 || f.Seq == q.last+1:
		return true, true
	case f.Seq <= q.last:
		return false, true
	}
	return false, false
}

// passed records that f, which alone let through, was written.
func (q *sequencer) passed(f Frame) {
	if f.Seq != 0 {
		q.last = f.Seq
	}
}

// drain appends the held frames that now follow last without a gap, and
// drops those at positions already passed.
func (q *sequencer) drain(out []Frame) []Frame {
	for seq := range q.held {
		if seq <= q.last {
			delete(q.held, seq)
		}
	}
	for len(q.held) > 0 {
		f, ok := q.held[q.last+1]
		if !ok {
			break
		}
		delete(q.held, f.Seq)
		q.last++
		out = append(out, f)
	}
	return out
}

// gap returns the positions missing before the first held frame: those in
// (last, upto). ok is false when nothing is held.
func (q *sequencer) gap() (after, upto int64, ok bool) {
	if len(q.held) == 0 {
		return 0, 0, false
	}
	upto = -1
	for seq := range q.held {
		if upto < 0 || seq < upto {
			upto = seq
		}
	}
	return q.last, upto, true
}

// settle records that every position below upto is written or empty (the
// database was read up to it), and appends the held frames that follow.
func (q *sequencer) settle(upto int64, out []Frame) []Frame {
	q.last = max(q.last, upto-1)
	return q.drain(out)
}
