package stream

import (
	"slices"
	"testing"
	"time"
)

// recordedDeadlines is a transport's SetWriteDeadline that remembers what it was given.
type recordedDeadlines []time.Time

func (r *recordedDeadlines) set(t time.Time) error {
	*r = append(*r, t)
	return nil
}

// TestWriteDeadline_MovedOnlyWhenFarShort pins what extend costs and what
// it guarantees: batches close together share one deadline (no runtime
// timer update each), yet every batch starts with at least
// writeTimeout-deadlineSlack to go, a sooner deadline is honoured at once,
// and nothing moves the deadline past a cut.
func TestWriteDeadline_MovedOnlyWhenFarShort(t *testing.T) {
	var got recordedDeadlines
	d := newWriteDeadline(got.set)
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

	d.extend(t0.Add(writeTimeout))
	// Batches over the next seconds ask for later deadlines that the
	// standing one is within deadlineSlack of: nothing is set.
	for _, at := range []time.Duration{time.Millisecond, time.Second, deadlineSlack} {
		d.extend(t0.Add(at + writeTimeout))
	}
	if want := []time.Time{t0.Add(writeTimeout)}; !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("deadlines set %v, want only %v", got, want)
	}
	// Past the slack the batch would have less than writeTimeout-deadlineSlack: moved.
	later := t0.Add(deadlineSlack + time.Millisecond + writeTimeout)
	d.extend(later)
	if got[len(got)-1] != later || len(got) != 2 {
		t.Fatalf("deadlines set %v, want the last to be %v", got, later)
	}
	// A sooner deadline (a close frame's grace) is set at once.
	soon := later.Add(-writeTimeout + closeGrace)
	d.extend(soon)
	if got[len(got)-1] != soon {
		t.Fatalf("a sooner deadline was not set: %v", got)
	}
	// A cut holds: later batches get the cut, and do not set it again.
	cutAt := soon.Add(-time.Second)
	d.cut(cutAt)
	n := len(got)
	d.extend(cutAt.Add(time.Hour))
	if len(got) != n || got[n-1] != cutAt {
		t.Fatalf("after the cut at %v the deadlines set were %v", cutAt, got)
	}
	// A cut later than the first does not undo it.
	d.cut(cutAt.Add(time.Second))
	if len(got) != n {
		t.Fatalf("a later cut moved the deadline: %v", got)
	}
}
